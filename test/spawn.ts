// `node dist/src/main.js` as a child process (what `npm start` runs), for tests that need another process
// or a cluster primary: resolves once `listening` gateways have logged "chatpulse listening".
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from './helpers.js';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Every line it wrote (stdout JSON logs and stderr chunks). */
  log: string[];
  /** The pids of the gateways that logged "chatpulse listening". */
  listeningPids(): number[];
}

interface LogEntry {
  msg?: string;
  port?: number;
  pid?: number;
}

export function spawnServer(env: Record<string, string>, listening = 1): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
  });
  const log: string[] = [];
  const entries = () => log.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogEntry);
  let buffer = '';
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`the server did not start:\n${log.join('\n')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}:\n${log.join('\n')}`)));
    child.stderr.on('data', (d: Buffer) => log.push(d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        log.push(line);
        const entry = JSON.parse(line) as LogEntry;
        if (entry.msg !== 'chatpulse listening' || ++seen < listening) continue;
        clearTimeout(timer);
        resolve({
          child,
          url: `http://127.0.0.1:${entry.port ?? 0}`,
          log,
          listeningPids: () =>
            entries()
              .filter((e) => e.msg === 'chatpulse listening')
              .map((e) => e.pid as number),
        });
      }
    });
  });
}
