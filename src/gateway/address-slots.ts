// Open WebSockets per client address (this process only), so that one address cannot take every slot of
// WS_MAX_CONNECTIONS from everyone else. The address is the one the rate limits use: the TCP peer, or the
// forwarded client behind TRUSTED_PROXIES. Loopback peers may be exempt: a local load generator, or a
// sidecar proxy that is not declared in TRUSTED_PROXIES (then every client looks like 127.0.0.1, and a cap
// on that one address would be a cap on the whole site).
import { isIP } from 'node:net';

export function isLoopback(address: string): boolean {
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

export class AddressSlots {
  private readonly open = new Map<string, number>();

  constructor(
    readonly max: number,
    private readonly exemptLoopback: boolean,
  ) {}

  /** Takes a slot for `address`; false when it holds `max` already. Exempt addresses are not counted. */
  take(address: string): boolean {
    if (this.exemptLoopback && isLoopback(address)) return true;
    const n = this.open.get(address) ?? 0;
    if (n >= this.max) return false;
    this.open.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.open.get(address);
    if (n === undefined) return; // exempt, never counted
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  /** Addresses holding at least one slot (for metrics and tests). */
  get addresses(): number {
    return this.open.size;
  }
}
