// Per-address WebSocket slots: every textual form of loopback is recognised, and IPv6 clients are counted
// per /64 (one subscriber line's worth), so spreading over one's own addresses does not lift the cap.
import { describe, expect, it } from 'vitest';
import { AddressSlots, isLoopback, slotKey } from '../src/gateway/address-slots.js';

describe('address slots', () => {
  it('recognises loopback in any spelling, and nothing else', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '0:0:0:0:0:0:0:1', '0000:0000:0000:0000:0000:0000:0000:0001', '::ffff:127.0.0.1'])
      expect(isLoopback(a), a).toBe(true);
    for (const a of ['10.0.0.1', '::', '::2', '2001:db8::1', '::ffff:10.0.0.1', 'not an address', '']) expect(isLoopback(a), a).toBe(false);
  });

  it('counts an IPv6 /64 as one address, and IPv4-mapped addresses as IPv4', () => {
    expect(slotKey('2001:db8:1:2:aaaa::1')).toBe(slotKey('2001:0db8:0001:0002:bbbb:cccc:dddd:eeee'));
    expect(slotKey('2001:db8:1:2::1')).not.toBe(slotKey('2001:db8:1:3::1'));
    expect(slotKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    const slots = new AddressSlots(2, true);
    expect(slots.take('2001:db8:1:2::1')).toBe(true);
    expect(slots.take('2001:db8:1:2::ffff')).toBe(true);
    expect(slots.take('2001:db8:1:2:3:4:5:6')).toBe(false);
    expect(slots.take('2001:db8:9::1')).toBe(true);
    slots.release('2001:db8:1:2::ffff');
    expect(slots.take('2001:db8:1:2:3:4:5:6')).toBe(true);
    for (let i = 0; i < 5; i++) expect(slots.take('127.0.0.1')).toBe(true); // exempt, uncounted
    expect(new AddressSlots(1, false).take('::1')).toBe(true);
  });
});
