// Open WebSockets per client address (this process only; an IPv6 client per /64), so that one address cannot take every slot of
// WS_MAX_CONNECTIONS from everyone else. The address is the one the rate limits use: the TCP peer, or the
// forwarded client behind TRUSTED_PROXIES. Loopback peers may be exempt: a local load generator, or a
// sidecar proxy that is not declared in TRUSTED_PROXIES (then every client looks like 127.0.0.1, and a cap
// on that one address would be a cap on the whole site).
import { BlockList, isIP } from 'node:net';

// A BlockList matches every textual form of an address (`::1`, `0:0:0:0:0:0:0:1`, IPv4-mapped ones).
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

export function isLoopback(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * What a slot is counted against: an IPv4 address, or an IPv6 address's /64 (one subscriber line holds a
 * whole /64, so counting single IPv6 addresses would be no cap at all). IPv4-mapped IPv6 counts as IPv4.
 */
export function slotKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && isIP(lower.slice(7)) === 4) return lower.slice(7);
  const [head = '', tail] = lower.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
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
    const key = slotKey(address);
    const n = this.open.get(key) ?? 0;
    if (n >= this.max) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(address: string): void {
    const key = slotKey(address);
    const n = this.open.get(key);
    if (n === undefined) return; // exempt, never counted
    if (n <= 1) this.open.delete(key);
    else this.open.set(key, n - 1);
  }

  /** Addresses holding at least one slot (for metrics and tests). */
  get addresses(): number {
    return this.open.size;
  }
}
