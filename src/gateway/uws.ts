// Loads uWebSockets.js and refuses the slow JavaScript fallback that the published build silently
// switches to when its native binary does not load (the fallback has no SSLApp).
import uws from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';

export class NativeUwsMissingError extends Error {
  override name = 'NativeUwsMissingError';
}

export function nativeUws(): typeof uws {
  if (typeof (uws as { SSLApp?: unknown }).SSLApp !== 'function') {
    throw new NativeUwsMissingError(
      `the native uWebSockets.js binary did not load (Node ${process.version}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}); refusing to run on the slow JavaScript fallback`,
    );
  }
  return uws;
}
