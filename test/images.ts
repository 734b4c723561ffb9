// Real image bytes for the upload suites (files, avatars), and an upload over real HTTP.

// 2x2 images encoded by libvips (sharp): what a browser or phone uploads, only small.
export const IMAGES = {
  'image/png': Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAFElEQVQImWP4z8DAAMIM/////w8AH+4F+0HwQUsAAAAASUVORK5CYII=',
    'base64',
  ),
  'image/jpeg': Buffer.from(
    '/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAACAAIDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAcEAADAAIDAQAAAAAAAAAAAAABAgMABQQGByH/xAAUAQEAAAAAAAAAAAAAAAAAAAAG/8QAGhEAAAcAAAAAAAAAAAAAAAAAAAECBDNxsf/aAAwDAQACEQMRAD8Auvm+n1l/O+rWvruHStNVxXd3gpZmMVJJJH0nGMYVcSrs9Ap3Ouz0f//Z',
    'base64',
  ),
  'image/gif': Buffer.from('R0lGODlhAgACAIIAAExpcQD/AP8AAP///wAA/wAAAAAAAAAAACH5BAUAAAAALAAAAAACAAIAAAMDKEGTADs=', 'base64'),
  'image/webp': Buffer.from('UklGRjoAAABXRUJQVlA4IC4AAACQAQCdASoCAAIAAUAmJaQAAudZtgAA/vZ//5wOIS38q//7Rj88te91eiYeAAAA', 'base64'),
} as const;

export async function upload(
  url: string,
  path: string,
  token: string,
  body: Buffer,
  contentType: string,
  method = 'POST',
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? null : (JSON.parse(text) as unknown) };
}
