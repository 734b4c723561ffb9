// Personal notifications: a `notification` frame for one user, on every socket of theirs on any process
// or host. The frame is built once where the event happens and carried on the bus's SYSTEM_CHANNEL, which
// every process watches; each process hands it to its own sockets of that user (the gateway's index).
import { frames } from '../contract/index.js';
import { SYSTEM_CHANNEL, type ChannelBus } from './bus.js';

export interface Notifier {
  /** At most once, like every bus event: a user who is not connected anywhere gets nothing. */
  notify(userId: string, kind: string, data: Record<string, unknown>): void;
}

export class BusNotifier implements Notifier {
  constructor(private readonly bus: Pick<ChannelBus, 'publish'>) {}

  notify(userId: string, kind: string, data: Record<string, unknown>): void {
    this.bus.publish({ kind: 'notify', channel: SYSTEM_CHANNEL, userId, frame: frames.notification(kind, data, Date.now()) });
  }
}
