// How the bare uWebSockets.js baselines start: listen on a free loopback port and print {"port":N}, the line
// the bench that started them waits for (portLine in processes.ts); exit on SIGTERM.
import { nativeUws, type TemplatedApp } from '../../src/gateway/uws.js';

export function listenOnFreePort(app: TemplatedApp, name: string): void {
  app.listen('127.0.0.1', 0, (socket) => {
    if (!socket) {
      console.error(`${name}: cannot listen`);
      process.exit(1);
    }
    console.log(JSON.stringify({ port: nativeUws().us_socket_local_port(socket) }));
  });
  process.on('SIGTERM', () => process.exit(0));
}
