// What an uploaded image is, read from its bytes: the declared Content-Type is a claim, the bytes decide.
// Only whole, well-formed PNG, JPEG, GIF and WebP files pass; trailing data and markup are refused.
import { AppError } from '../errors.js';

export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

/** The file name extension a stored image is served under. */
export const EXTENSION: Record<ImageType, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_IEND = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
// Markup a browser (or a careless proxy that ignores nosniff) could render: an image holding any of these is
// a polyglot, whatever its structure says.
const MARKUP = /<(?:script|html|svg|iframe|body|head|object|embed|!doctype|\?php|\?xml)/i;

const startsWith = (b: Buffer, bytes: readonly number[], at = 0): boolean => bytes.every((v, i) => b[at + i] === v);
const ascii = (b: Buffer, at: number, text: string): boolean => b.toString('latin1', at, at + text.length) === text;

/** The image type the bytes are, or null: a well-formed file from its signature to its trailer. */
export function sniffImage(b: Buffer): ImageType | null {
  if (startsWith(b, PNG_SIGNATURE)) {
    const ihdr = b.length >= 8 + 25 + 12 && b.readUInt32BE(8) === 13 && ascii(b, 12, 'IHDR');
    return ihdr && startsWith(b, PNG_IEND, b.length - PNG_IEND.length) ? 'image/png' : null;
  }
  if (startsWith(b, [0xff, 0xd8, 0xff])) {
    return b.length >= 6 && b[b.length - 2] === 0xff && b[b.length - 1] === 0xd9 ? 'image/jpeg' : null;
  }
  if (ascii(b, 0, 'GIF87a') || ascii(b, 0, 'GIF89a')) {
    return b.length >= 14 && b[b.length - 1] === 0x3b ? 'image/gif' : null;
  }
  if (ascii(b, 0, 'RIFF') && ascii(b, 8, 'WEBP') && b.length >= 20) {
    const chunk = b.toString('latin1', 12, 16);
    const whole = b.readUInt32LE(4) + 8 === b.length;
    return whole && (chunk === 'VP8 ' || chunk === 'VP8L' || chunk === 'VP8X') ? 'image/webp' : null;
  }
  return null;
}

/** The declared media type, lowercased, without parameters; `image/jpg` is read as `image/jpeg`. */
export function declaredType(header: string): string {
  const type = header.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'image/jpg' ? 'image/jpeg' : type;
}

/**
 * The checked type of an upload: 400 when empty; 415 unless the declared type is one of IMAGE_TYPES and the
 * bytes are a well-formed image of that same type with no markup in them.
 */
export function checkImage(bytes: Buffer, contentType: string): ImageType {
  if (bytes.length === 0) throw new AppError(400, 'empty_file', 'the file is empty');
  const declared = declaredType(contentType);
  const sniffed = sniffImage(bytes);
  if (sniffed === null || sniffed !== declared || MARKUP.test(bytes.toString('latin1'))) {
    throw new AppError(415, 'unsupported_media_type', `only ${IMAGE_TYPES.join(', ')} files are accepted, sent as their own type`);
  }
  return sniffed;
}
