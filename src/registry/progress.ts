// Download progress: a redrawn bar on a terminal, one plain line per file elsewhere (logs, CI), or
// events for a caller that renders them itself.

export type ProgressEvent =
  | { readonly kind: 'start'; readonly id: string; readonly revision: string; readonly files: number; readonly bytes: number }
  | {
      readonly kind: 'file';
      readonly id: string;
      readonly file: string;
      /** Bytes on disk so far, resumed bytes included. */
      readonly received: number;
      readonly total: number;
      /** Bytes kept from an earlier attempt's `.part` file (0 for a fresh download). */
      readonly resumedFrom: number;
      readonly done: boolean;
    }
  | { readonly kind: 'ready'; readonly id: string; readonly dir: string }
  /** Another process holds the download lock for this model; `holder` is its pid. */
  | { readonly kind: 'wait'; readonly id: string; readonly holder: string };

/** A writable stream (stderr by default), a callback, or false for silence. */
export type ProgressSink = NodeJS.WritableStream | ((event: ProgressEvent) => void) | false;

export type ProgressFn = (event: ProgressEvent) => void;

const BAR_WIDTH = 24;
// Redrawing on every chunk would cost more than the download on a fast link.
const REDRAW_MS = 100;

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

function percent(received: number, total: number): number {
  return total === 0 ? 100 : Math.min(100, Math.floor((received / total) * 100));
}

function streamProgress(stream: NodeJS.WritableStream): ProgressFn {
  const tty = (stream as { isTTY?: boolean }).isTTY === true;
  let lastDraw = 0;
  return (event) => {
    switch (event.kind) {
      case 'start':
        stream.write(`downloading ${event.id} (revision ${event.revision}): ${event.files} files, ${formatBytes(event.bytes)}\n`);
        return;
      case 'wait':
        stream.write(`waiting for process ${event.holder}, which is downloading ${event.id}\n`);
        return;
      case 'ready':
        stream.write(`${event.id} ready in ${event.dir}\n`);
        return;
      case 'file': {
        const pct = percent(event.received, event.total);
        const resumed = event.resumedFrom > 0 ? ` (resumed at ${formatBytes(event.resumedFrom)})` : '';
        if (!tty) {
          if (event.done) stream.write(`  ${event.file} ${formatBytes(event.total)} 100%${resumed}\n`);
          return;
        }
        const now = Date.now();
        if (!event.done && now - lastDraw < REDRAW_MS) return;
        lastDraw = now;
        const filled = Math.round((pct / 100) * BAR_WIDTH);
        const bar = `${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}`;
        const line = `  [${bar}] ${String(pct).padStart(3)}% ${formatBytes(event.received)}/${formatBytes(event.total)} ${event.file}${resumed}`;
        // \r + erase-line redraws in place; the final state stays on screen with a newline.
        stream.write(`\r\x1b[2K${line}${event.done ? '\n' : ''}`);
        return;
      }
    }
  };
}

export function createProgress(sink: ProgressSink | undefined): ProgressFn {
  if (sink === false) return () => {};
  if (typeof sink === 'function') return sink;
  return streamProgress(sink ?? process.stderr);
}
