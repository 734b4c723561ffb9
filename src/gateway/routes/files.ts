// Images over REST: files uploaded to a room (attached to chat messages by `file_id`) and the caller's avatar.
// Bytes are checked (src/files/images.ts) whatever the Content-Type says, and served back with their checked
// type, nosniff, a fixed inline file name and a CSP that forbids everything an image does not need.
import { createHash } from 'node:crypto';
import type { AuthService, IdentityCache, Principal } from '../../auth/index.js';
import type { RoomRecord, RoomService } from '../../channels/index.js';
import { FileReply, ImageReply, UserReply } from '../../contract/index.js';
import { AppError, notFound } from '../../errors.js';
import { EXTENSION, fileUrl, IMAGE_TYPES, type FileMeta, type FileService } from '../../files/index.js';
import { route, type Reply, type Route } from '../router.js';

export interface FileRouteDeps {
  files: FileService;
  rooms: Pick<RoomService, 'resolve' | 'get' | 'postRefusal'>;
  auth: AuthService;
  identities: Pick<IdentityCache, 'forget'>;
  /** MAX_FILE_BYTES. */
  maxBytes: number;
}

const FileId = { pattern: '^[0-9a-hjkmnp-tv-z]{26}$' };
// An image needs nothing else; `sandbox` also stops anything that renders it as a document from running code.
const IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

const fileView = (m: FileMeta) => ({ id: m.id, url: fileUrl(m.id), content_type: m.contentType, size: m.size });

function imageReply(meta: FileMeta, bytes: Buffer, cache: string): Reply {
  return {
    raw: { contentType: meta.contentType, body: bytes },
    headers: {
      'X-Content-Type-Options': 'nosniff',
      'Content-Disposition': `inline; filename="image.${EXTENSION[meta.contentType]}"`,
      'Content-Security-Policy': IMAGE_CSP,
      'Cache-Control': cache,
      ETag: `"${meta.id}"`,
    },
  };
}

/** A private room's files are its members' (and admins'); any other room's, any signed-in user's. */
function mayRead(room: RoomRecord, principal: Principal): boolean {
  const members: unknown = room.members;
  return !Array.isArray(members) || principal.role === 'admin' || members.includes(principal.userId);
}

const escapeXml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);

/** Up to two initials of a name (letters or digits of its first words), uppercased; `?` when it has none. */
export function initials(name: string): string {
  const words = name
    .normalize('NFC')
    .split(/[\s._-]+/u)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  const letters = words.slice(0, 2).map((w) => Array.from(w.replace(/[^\p{L}\p{N}]/gu, ''))[0] ?? '');
  return letters.join('').toUpperCase() || '?';
}

/** A plain SVG of a user's initials on a colour of their id: text escaped, no scripts, links or external references. */
export function initialsSvg(userId: string, name: string): string {
  const hue = createHash('sha256').update(userId).digest().readUInt16BE(0) % 360;
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">' +
    `<rect width="128" height="128" fill="hsl(${hue},45%,45%)"/>` +
    '<text x="64" y="64" dy=".35em" text-anchor="middle" font-family="sans-serif" font-size="52" fill="#ffffff">' +
    `${escapeXml(initials(name))}</text></svg>`
  );
}

export function fileRoutes(d: FileRouteDeps): Route[] {
  const who = (p: Principal | null) => p as Principal; // non-null on authenticated routes
  const upload = { upload: IMAGE_TYPES, maxBodyBytes: d.maxBytes };
  const uploadErrors = {
    400: 'An empty body (`empty_file`)',
    409: 'Past your storage quota, `FILE_QUOTA_BYTES` (`quota_exceeded`)',
    413: 'Over `MAX_FILE_BYTES`',
    415: 'Not a PNG, JPEG, GIF or WebP image sent as its own type (`unsupported_media_type`)',
  };
  return [
    route({
      method: 'post',
      path: '/api/v1/rooms/:id/files',
      auth: 'user',
      rateLimit: 'api',
      tag: 'files',
      summary: 'Upload an image to a room (the raw file as the body, with its Content-Type)',
      description:
        'Only PNG, JPEG, GIF and WebP, checked by their bytes. Only someone who may post in the room uploads to it; ' +
        'a `chat` frame then attaches it with `file_id` (only its uploader, only in this room).',
      ...upload,
      response: FileReply,
      responses: { 201: 'The stored file', ...uploadErrors, 403: 'You may not post in this room' },
      handler: async ({ params, principal, upload: body }) => {
        const p = who(principal);
        const room = await d.rooms.resolve(params.id as string);
        const refusal = d.rooms.postRefusal(room, p, Date.now());
        if (refusal) throw refusal;
        const meta = await d.files.upload(p.userId, room.id, body?.contentType ?? '', body?.bytes ?? Buffer.alloc(0));
        return { status: 201, body: fileView(meta) };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/files/:id',
      auth: 'user',
      tag: 'files',
      summary: "An uploaded image's bytes (a private room's only to its members)",
      produces: 'image/*',
      response: ImageReply,
      handler: async ({ params, principal }) => {
        const id = params.id as string;
        if (!new RegExp(FileId.pattern).test(id)) throw notFound(`no file "${id}"`);
        const file = await d.files.read(id);
        if (file.meta.roomId !== null) {
          const room = await d.rooms.get(file.meta.roomId).catch((err: unknown) => {
            if (err instanceof AppError && err.status === 404) return null;
            throw err; // shared state unreachable: 503, not a silent 404
          });
          // Not found rather than forbidden: a private room's files do not exist for outsiders (nor do the
          // files of a room that is gone, whose members nobody can tell any more).
          if (!room || !mayRead(room, who(principal))) throw notFound(`no file "${id}"`);
        }
        // Immutable: a file id never names other bytes. Private: it was served to a signed-in user.
        return imageReply(file.meta, file.bytes, 'private, max-age=31536000, immutable');
      },
    }),
    route({
      method: 'put',
      path: '/api/v1/users/me/avatar',
      auth: 'user',
      rateLimit: 'api',
      tag: 'account',
      summary: 'Upload your avatar (the raw image as the body, with its Content-Type)',
      description: 'The same checks as room files; it replaces an earlier upload and shows before `avatar_url`.',
      ...upload,
      response: UserReply,
      responses: uploadErrors,
      handler: async ({ principal, upload: body }) => {
        const p = who(principal);
        const meta = await d.files.upload(p.userId, null, body?.contentType ?? '', body?.bytes ?? Buffer.alloc(0));
        const { user, replaced } = await d.auth.setAvatarFile(p, meta.id);
        d.identities.forget(p.userId);
        if (replaced !== null) await d.files.delete(replaced);
        return { body: user };
      },
    }),
    route({
      method: 'del',
      path: '/api/v1/users/me/avatar',
      auth: 'user',
      rateLimit: 'api',
      tag: 'account',
      summary: 'Remove your uploaded avatar (initials are shown again, or your `avatar_url`)',
      responses: { 204: 'Removed (or there was none)' },
      handler: async ({ principal }) => {
        const p = who(principal);
        const { replaced } = await d.auth.setAvatarFile(p, null);
        d.identities.forget(p.userId);
        if (replaced !== null) await d.files.delete(replaced);
        return { status: 204 };
      },
    }),
    route({
      method: 'get',
      path: '/api/v1/users/:id/avatar',
      auth: 'public',
      tag: 'account',
      summary: "A user's uploaded avatar, else an SVG of their initials",
      produces: 'image/*',
      response: ImageReply,
      responses: { 404: 'No such user' },
      handler: async ({ params }) => {
        const userId = params.id as string;
        const source = await d.auth.avatarSource(userId);
        if (!source) throw notFound(`no user "${userId}"`);
        if (source.fileId !== null) {
          const file = await d.files.meta(source.fileId).then((m) => (m ? d.files.read(m.id) : null));
          if (file) return imageReply(file.meta, file.bytes, 'public, max-age=60');
        }
        return {
          raw: { contentType: 'image/svg+xml', body: initialsSvg(userId, source.name) },
          headers: {
            'X-Content-Type-Options': 'nosniff',
            'Content-Disposition': 'inline; filename="avatar.svg"',
            'Content-Security-Policy': IMAGE_CSP,
            'Cache-Control': 'public, max-age=60',
          },
        };
      },
    }),
  ];
}
