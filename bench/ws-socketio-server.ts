// The baseline for bench/ws.ts: socket.io 4 doing the same fan-out the idiomatic way. A `subscribe` event
// joins the channel's room (acknowledged), a `chat` event is broadcast to the room with io.to(room).emit,
// which encodes the packet once for all its members. With BATCH_MS > 0 each room's chats are held that long
// and emitted as one `chats` event carrying the array (the coalescing variant).
// Run as a child process like ChatPulse; prints {"port":N} once listening.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';

const batchMs = Number(process.env.BATCH_MS ?? '0');
const http = createServer();
// WebSocket transport only (the clients use nothing else) and no compression: the same terms as uWS.
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
const pending = new Map<string, unknown[]>();

interface Chat {
  channel: string;
  text: string;
}

const isChat = (m: unknown): m is Chat =>
  typeof m === 'object' && m !== null && typeof (m as Chat).channel === 'string' && typeof (m as Chat).text === 'string';

function flush(room: string): void {
  const chats = pending.get(room);
  pending.delete(room);
  if (chats !== undefined && chats.length > 0) io.to(room).emit('chats', chats);
}

io.on('connection', (socket) => {
  socket.on('subscribe', (channel: unknown, ack: unknown) => {
    if (typeof channel !== 'string') return;
    void socket.join(channel);
    if (typeof ack === 'function') (ack as (reply: { channel: string }) => void)({ channel });
  });
  socket.on('chat', (msg: unknown) => {
    if (!isChat(msg)) return;
    if (batchMs <= 0) {
      io.to(msg.channel).emit('chat', msg);
      return;
    }
    const chats = pending.get(msg.channel);
    if (chats !== undefined) chats.push(msg);
    else {
      pending.set(msg.channel, [msg]);
      setTimeout(() => flush(msg.channel), batchMs);
    }
  });
});
http.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (http.address() as AddressInfo).port })));
process.on('SIGTERM', () => process.exit(0));
