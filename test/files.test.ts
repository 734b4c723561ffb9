// Images in chat, end to end: a real server (folder driver in a temporary FILES_DIR), real HTTP uploads of real
// image bytes (made by an image encoder) and hostile ones, real `ws` clients for `file` in message frames.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImage } from '../src/files/index.js';
import { call, startServer, type TestServer } from './helpers.js';
import { IMAGES, upload } from './images.js';
import { RawConnection } from './raw-http.js';
import { account, WsClient, type Account } from './ws-client.js';

interface FileView {
  id: string;
  url: string;
  content_type: string;
  size: number;
}

describe('files in chat', () => {
  let s: TestServer;
  let dir: string;
  let alice: Account;
  let bob: Account;
  const clients: WsClient[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chatpulse-files-'));
    s = await startServer({ FILES_DIR: dir, FILE_QUOTA_BYTES: '4096', MATCH_TICK_MS: '50' });
    [alice, bob] = await Promise.all([account(s.url, 'f_alice'), account(s.url, 'f_bob')]);
    for (const id of ['gallery', 'other']) {
      expect((await call(s.url, 'POST', '/api/v1/rooms', { token: alice.token, body: { id } })).status).toBe(201);
    }
  }, 30_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    await s.app.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stores each accepted type and serves the same bytes with safe headers', async () => {
    for (const [type, bytes] of Object.entries(IMAGES)) {
      const up = await upload(s.url, '/api/v1/rooms/gallery/files', alice.token, bytes, type);
      expect(up.status, type).toBe(201);
      const view = up.body as FileView;
      expect(view.id).toMatch(/^[0-9a-z]{26}$/);
      expect(view).toEqual({
        id: view.id,
        url: `/api/v1/files/${view.id}`,
        content_type: type,
        size: bytes.length,
      });
      const res = await fetch(s.url + view.url, { headers: { authorization: `Bearer ${bob.token}` } });
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="image\.(png|jpg|gif|webp)"$/);
      expect(res.headers.get('cache-control')).toContain('max-age=');
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    }
    // Signed-in users only; unknown and malformed ids are 404.
    expect(
      (await fetch(`${s.url}/api/v1/files/01jabcdefghjkmnpqrstvwxyz0`, { headers: { authorization: `Bearer ${bob.token}` } })).status,
    ).toBe(404);
    expect((await call(s.url, 'GET', '/api/v1/files/..%2F..%2Fetc', { token: bob.token })).status).toBe(404);
    expect((await call(s.url, 'GET', '/api/v1/files/01jabcdefghjkmnpqrstvwxyz0')).status).toBe(401);
  });

  it('refuses what is not a whole image of the declared type', async () => {
    const png = IMAGES['image/png'];
    const html = Buffer.from('<html><body><script>alert(document.cookie)</script></body></html>');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const cases: Array<[string, Buffer, string]> = [
      ['PNG signature then HTML', Buffer.concat([png.subarray(0, 8), html]), 'image/png'],
      ['SVG', svg, 'image/svg+xml'],
      ['SVG declared as PNG', svg, 'image/png'],
      ['HTML declared as GIF', html, 'image/gif'],
      ['polyglot: a PNG with HTML after its end', Buffer.concat([png, html]), 'image/png'],
      ['polyglot: a GIF with a script in a comment', gifWithComment('<script>alert(1)</script>'), 'image/gif'],
      ['a PNG declared as GIF', png, 'image/gif'],
      ['a PNG declared as text/html', png, 'text/html'],
      ['a PNG without a Content-Type', png, ''],
      ['a truncated PNG', png.subarray(0, png.length - 5), 'image/png'],
    ];
    for (const [what, body, type] of cases) {
      const res = await upload(s.url, '/api/v1/rooms/gallery/files', alice.token, body, type);
      expect(res.status, what).toBe(415);
      expect((res.body as { error: { code: string } }).error.code, what).toBe('unsupported_media_type');
    }
    const empty = await upload(s.url, '/api/v1/rooms/gallery/files', alice.token, Buffer.alloc(0), 'image/png');
    expect(empty.status).toBe(400);
    expect((empty.body as { error: { code: string } }).error.code).toBe('empty_file');
  });

  it('refuses a body over MAX_FILE_BYTES with 413', async () => {
    const big = Buffer.concat([IMAGES['image/png'], Buffer.alloc(6 * 1024 * 1024)]);
    const res = await upload(s.url, '/api/v1/rooms/gallery/files', alice.token, big, 'image/png');
    expect(res.status).toBe(413);
  });

  it('stops reading a streamed body as soon as it passes MAX_FILE_BYTES', async () => {
    // Chunked, no Content-Length, and never finished: only a server that refuses mid-stream answers at all.
    const conn = await RawConnection.open(s.app.port);
    conn.send(
      `POST /api/v1/rooms/gallery/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\n` +
        'Content-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const chunk = 'A'.repeat(64 * 1024);
    for (let sent = 0; sent <= 5 * 1024 * 1024 + chunk.length; sent += chunk.length)
      conn.send(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const res = await conn.response(10_000);
    expect(res.status).toBe(413);
    conn.destroy();
  });

  it('holds each user to FILE_QUOTA_BYTES', async () => {
    const carol = await account(s.url, 'f_carol');
    const jpeg = IMAGES['image/jpeg']; // 318 bytes: 12 fit in 4096
    for (let i = 0; i < 12; i++)
      expect((await upload(s.url, '/api/v1/rooms/gallery/files', carol.token, jpeg, 'image/jpeg')).status).toBe(201);
    const over = await upload(s.url, '/api/v1/rooms/gallery/files', carol.token, jpeg, 'image/jpeg');
    expect(over.status).toBe(409);
    expect((over.body as { error: { code: string } }).error.code).toBe('quota_exceeded');
    // Someone else's quota is their own.
    expect((await upload(s.url, '/api/v1/rooms/gallery/files', bob.token, jpeg, 'image/jpeg')).status).toBe(201);
  });

  it("attaches the uploader's own file of that room to a message frame, and nothing else", async () => {
    const up = (await upload(s.url, '/api/v1/rooms/gallery/files', alice.token, IMAGES['image/gif'], 'image/gif')).body as FileView;
    const elsewhere = (await upload(s.url, '/api/v1/rooms/other/files', alice.token, IMAGES['image/gif'], 'image/gif')).body as FileView;
    const wa = await WsClient.open(s.url, `token=${alice.token}`);
    const wb = await WsClient.open(s.url, `token=${bob.token}`);
    clients.push(wa, wb);
    await wb.subscribe('room:gallery');
    wa.send({ type: 'chat', channel: 'room:gallery', text: 'look at this', file_id: up.id, ref: 'r1' });
    const frame = await wb.nth('message', 0);
    expect(frame.file).toEqual({ id: up.id, url: up.url, content_type: 'image/gif' });
    // Bob may not attach Alice's file; Alice may not attach a file of another room.
    wb.send({ type: 'chat', channel: 'room:gallery', text: 'mine now', file_id: up.id, ref: 'r2' });
    wa.send({ type: 'chat', channel: 'room:gallery', text: 'from elsewhere', file_id: elsewhere.id, ref: 'r3' });
    const errors = await wa.until((fs) => fs.filter((f) => f.type === 'error').length >= 1 && fs.filter((f) => f.type === 'error'));
    expect(errors[0]).toMatchObject({ code: 'invalid_file', ref: 'r3' });
    const bobErrors = await wb.until((fs) => fs.filter((f) => f.type === 'error').length >= 1 && fs.filter((f) => f.type === 'error'));
    expect(bobErrors[0]).toMatchObject({ code: 'invalid_file', ref: 'r2' });
    // A message without a file has no `file` field.
    wa.send({ type: 'chat', channel: 'room:gallery', text: 'plain' });
    const plain = await wb.nth('message', 1);
    expect(plain.text).toBe('plain');
    expect('file' in plain).toBe(false);
  });

  it("serves a private room's files only to its members", async () => {
    const [m1, m2, outsider] = await Promise.all([account(s.url, 'f_m1'), account(s.url, 'f_m2'), account(s.url, 'f_out')]);
    const w1 = await WsClient.open(s.url, `token=${m1.token}`);
    clients.push(w1);
    const prefs = { interests: ['photos'], languages: ['en'] };
    expect((await call(s.url, 'POST', '/api/v1/match', { token: m1.token, body: prefs })).status).toBe(202);
    expect((await call(s.url, 'POST', '/api/v1/match', { token: m2.token, body: prefs })).status).toBe(202);
    const room = await w1.until((fs) => {
      const n = fs.find((f) => f.type === 'notification' && f.kind === 'matched');
      return n && (n.data as { room: string }).room;
    });
    const id = room.replace(/^room:/, '');
    const up = await upload(s.url, `/api/v1/rooms/${id}/files`, m1.token, IMAGES['image/png'], 'image/png');
    expect(up.status).toBe(201);
    const url = (up.body as FileView).url;
    expect((await fetch(s.url + url, { headers: { authorization: `Bearer ${m2.token}` } })).status).toBe(200);
    expect((await fetch(s.url + url, { headers: { authorization: `Bearer ${outsider.token}` } })).status).toBe(404);
    // Nor may an outsider upload to it.
    expect((await upload(s.url, `/api/v1/rooms/${id}/files`, outsider.token, IMAGES['image/png'], 'image/png')).status).toBe(403);
  });
});

/** A well-formed GIF (the 2x2 one) with a comment extension holding `text` before its trailer. */
function gifWithComment(text: string): Buffer {
  const gif = IMAGES['image/gif'];
  const body = Buffer.from(text, 'latin1');
  const comment = Buffer.concat([Buffer.from([0x21, 0xfe, body.length]), body, Buffer.from([0])]);
  return Buffer.concat([gif.subarray(0, gif.length - 1), comment, Buffer.from([0x3b])]);
}

describe('checkImage', () => {
  it('accepts each whole image as its own type only', () => {
    for (const [type, bytes] of Object.entries(IMAGES)) {
      expect(checkImage(bytes, type)).toBe(type);
      expect(checkImage(bytes, `${type.toUpperCase()}; charset=binary`)).toBe(type);
    }
    expect(checkImage(IMAGES['image/jpeg'], 'image/jpg')).toBe('image/jpeg');
  });

  it('refuses trailing data, a wrong RIFF size and markup inside', () => {
    const refused = (bytes: Buffer, type: string) => expect(() => checkImage(bytes, type)).toThrow(/only image\/png/);
    refused(Buffer.concat([IMAGES['image/jpeg'], Buffer.from('PK\x05\x06')]), 'image/jpeg'); // a JPEG + ZIP polyglot
    refused(Buffer.concat([IMAGES['image/gif'], Buffer.from('x')]), 'image/gif');
    refused(Buffer.concat([IMAGES['image/webp'], Buffer.alloc(2)]), 'image/webp'); // RIFF size no longer the file's
    refused(gifWithComment('<!DOCTYPE html>'), 'image/gif');
    expect(() => checkImage(Buffer.alloc(0), 'image/png')).toThrow(/empty/);
  });
});
