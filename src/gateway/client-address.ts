// The client's address for per-address limits and logs. Behind a reverse proxy (an ingress) the TCP peer
// is the proxy, so every client would share one budget; with TRUSTED_PROXIES set, a request from a trusted
// peer is attributed to the right-most address in X-Forwarded-For that is not itself a trusted proxy
// (right-most: the left part of the header is whatever the client chose to send).
import { BlockList, isIP } from 'node:net';
import { ConfigError } from '../config.js';

export class ClientAddress {
  private readonly trusted: BlockList | null;

  /** `entries`: addresses or CIDR ranges, IPv4 or IPv6 (e.g. `10.0.0.0/8`, `127.0.0.1`). */
  constructor(entries: readonly string[]) {
    if (entries.length === 0) {
      this.trusted = null;
      return;
    }
    const list = new BlockList();
    for (const entry of entries) {
      const [address = '', bits] = entry.split('/');
      const family = isIP(address);
      if (family === 0) throw new ConfigError(`TRUSTED_PROXIES: "${entry}" is not an address or CIDR range`);
      const type = family === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) list.addAddress(address, type);
      else {
        const prefix = Number(bits);
        if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128))
          throw new ConfigError(`TRUSTED_PROXIES: "${entry}" has a bad prefix length`);
        list.addSubnet(address, prefix, type);
      }
    }
    this.trusted = list;
  }

  /** Whether X-Forwarded-For is read at all (callers skip reading the header otherwise). */
  get enabled(): boolean {
    return this.trusted !== null;
  }

  resolve(peer: string, forwardedFor: string): string {
    if (this.trusted === null || forwardedFor === '' || !this.isTrusted(peer)) return peer;
    const hops = forwardedFor.split(',').map((h) => h.trim());
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) return peer; // a malformed chain: trust none of it
      if (!this.isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer; // every hop is a proxy: the first is as close to the client as we know
  }

  private isTrusted(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && (this.trusted as BlockList).check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}
