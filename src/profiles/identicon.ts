// Tier 3: a deterministic identicon, a 5x5 mirrored grid on a colour, both from a hash of source and username.
// Plain SVG: rectangles only, no text, scripts, links or external references.
import { createHash } from 'node:crypto';

export function identiconSvg(source: string, username: string): string {
  const h = createHash('sha256').update(`${source}:${username}`).digest();
  const hue = h.readUInt16BE(0) % 360;
  const cells: string[] = [];
  for (let row = 0; row < 5; row++)
    for (let col = 0; col < 3; col++) {
      const bit = ((h[2 + row] as number) >> col) & 1;
      if (bit === 0) continue;
      for (const c of col === 2 ? [2] : [col, 4 - col])
        cells.push(`<rect x="${14 + c * 20}" y="${14 + row * 20}" width="20" height="20"/>`);
    }
  return (
    '<svg xmlns="http://www.w3.org/2000/svg" width="128" height="128" viewBox="0 0 128 128">' +
    '<rect width="128" height="128" fill="#f0f0f0"/>' +
    `<g fill="hsl(${hue},55%,50%)">${cells.join('')}</g></svg>`
  );
}
