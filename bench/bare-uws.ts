// The ceiling for bench/rest.ts: a bare uWebSockets.js server answering GET /health with {"status":"ok"},
// nothing else. Run as a child process exactly like ChatPulse; prints {"port":N} once listening.
import { nativeUws } from '../src/gateway/uws.js';
import { listenOnFreePort } from './lib/uws-listen.js';

// The same native binary ChatPulse refuses to run without, so the ceiling is not the slow JS fallback.
const uws = nativeUws();
const body = JSON.stringify({ status: 'ok' });
const app = uws.App().get('/health', (res) => {
  res.cork(() => {
    res.writeHeader('Content-Type', 'application/json').end(body);
  });
});
listenOnFreePort(app, 'bare uWS');
