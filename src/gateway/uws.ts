// Loads uWebSockets.js and refuses the slow JavaScript fallback that the published build silently
// switches to when its native binary does not load (the fallback has no SSLApp). The usual cause is the
// Node version: this uWS build ships binaries for Node 16, 18 and 20 (ABIs 93, 108, 115) on glibc Linux,
// macOS and Windows only, so Node 21 or later (or Alpine's musl) lands on the fallback; the error says so.
import uws from 'uWebSockets.js';

export type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, WebSocket } from 'uWebSockets.js';

export class NativeUwsMissingError extends Error {
  override name = 'NativeUwsMissingError';
}

/** The Node major versions this uWS build ships native binaries for. */
const SUPPORTED_NODE_MAJORS = [16, 18, 20];

/** What to do about a missing native binary, for the running Node and platform. */
export function nativeUwsAdvice(version: string, platform: string): string {
  const major = Number(/^v?(\d+)/.exec(version)?.[1]);
  if (!SUPPORTED_NODE_MAJORS.includes(major)) {
    return (
      `use Node 20: this is Node ${version}, and the uWebSockets.js build ChatPulse uses ships native binaries ` +
      `for Node 16, 18 and 20 only (ChatPulse needs 20.19 or a later 20.x; README, "Node 20 only")`
    );
  }
  return platform === 'linux'
    ? `use Node 20 (this is ${version}) on a glibc Linux (Debian, Ubuntu; not Alpine's musl), and check that ` +
        `node_modules/uWebSockets.js/binaries/ holds a binary for this platform (reinstall with npm ci)`
    : `use Node 20 (this is ${version}) and check that node_modules/uWebSockets.js/binaries/ holds a binary for ` +
        `this platform (reinstall with npm ci)`;
}

export function nativeUws(): typeof uws {
  if (typeof (uws as { SSLApp?: unknown }).SSLApp !== 'function') {
    throw new NativeUwsMissingError(
      `the native uWebSockets.js binary did not load (Node ${process.version}, ABI ${process.versions.modules}, ` +
        `${process.platform}-${process.arch}); refusing to run on the slow JavaScript fallback: ` +
        nativeUwsAdvice(process.version, process.platform),
    );
  }
  return uws;
}
