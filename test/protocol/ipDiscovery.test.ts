import fc from 'fast-check';
import {
  IP_DISCOVERY_REQUEST,
  IP_DISCOVERY_RESPONSE,
  IP_DISCOVERY_SIZE,
  encodeIpDiscovery,
  encodeIpDiscoveryRequest,
  isIpDiscovery,
  parseIpDiscovery,
} from '../../src/protocol/ipDiscovery';
import { expectProtocolError } from '../helpers/expectProtocolError';

const expectBadPacket = (fn: () => unknown): void => expectProtocolError(fn, 'IP_DISCOVERY_BAD_PACKET');

/** Builds a response by hand, independently of the encoder. */
function handResponse(ssrc: number, address: string, port: number): Buffer {
  const b = Buffer.alloc(74);
  b[1] = 2;
  b[3] = 70;
  b.writeUInt32BE(ssrc, 4);
  b.write(address, 8, 'latin1');
  b[72] = port >> 8;
  b[73] = port & 0xff;
  return b;
}

describe('constants', () => {
  it('match the wire facts', () => {
    expect(IP_DISCOVERY_SIZE).toBe(74);
    expect(IP_DISCOVERY_REQUEST).toBe(1);
    expect(IP_DISCOVERY_RESPONSE).toBe(2);
  });
});

describe('encodeIpDiscoveryRequest', () => {
  it('is 74 bytes: type 1, length 70, BE ssrc, 64 zero address bytes, zero port', () => {
    const req = encodeIpDiscoveryRequest(0x01020304);
    expect(req.length).toBe(74);
    expect(req.subarray(0, 8).toString('hex')).toBe('0001004601020304');
    expect(req.subarray(8).every((b) => b === 0)).toBe(true);
  });

  it('wraps the SSRC to u32', () => {
    expect(encodeIpDiscoveryRequest(0xffffffff).readUInt32BE(4)).toBe(0xffffffff);
    expect(encodeIpDiscoveryRequest(-1).readUInt32BE(4)).toBe(0xffffffff);
  });

  it('round-trips through parseIpDiscovery', () => {
    expect(parseIpDiscovery(encodeIpDiscoveryRequest(12345))).toEqual({
      type: IP_DISCOVERY_REQUEST,
      ssrc: 12345,
      address: '',
      port: 0,
    });
  });
});

describe('encodeIpDiscovery (response)', () => {
  it('puts a NUL-terminated address at byte 8 and the BE port in the last 2 bytes', () => {
    const res = encodeIpDiscovery({ type: IP_DISCOVERY_RESPONSE, ssrc: 7, address: '203.0.113.45', port: 50004 });
    expect(res.length).toBe(74);
    expect(res.subarray(0, 8).toString('hex')).toBe('0002004600000007');
    expect(res.toString('latin1', 8, 8 + 12)).toBe('203.0.113.45');
    expect(res[8 + 12]).toBe(0);
    expect(res.subarray(8 + 12, 72).every((b) => b === 0)).toBe(true);
    expect(res[72]).toBe(50004 >> 8);
    expect(res[73]).toBe(50004 & 0xff);
    expect(res).toEqual(handResponse(7, '203.0.113.45', 50004));
  });

  it.each([
    ['0.0.0.0', 0],
    ['127.0.0.1', 1],
    ['255.255.255.255', 65535],
    ['192.168.100.200', 0x8001],
    ['2001:db8::1', 443],
    ['fe80::1%eth0', 9],
  ])('round-trips %s:%i', (address, port) => {
    const packet = { type: IP_DISCOVERY_RESPONSE, ssrc: 0xdeadbeef, address, port } as const;
    const bytes = encodeIpDiscovery(packet);
    expect(isIpDiscovery(bytes)).toBe(true);
    expect(parseIpDiscovery(bytes)).toEqual(packet);
  });

  it('accepts a 63-byte address (still NUL-terminated) and rejects 64 bytes', () => {
    const a63 = '1'.repeat(63);
    const bytes = encodeIpDiscovery({ type: 2, ssrc: 1, address: a63, port: 2 });
    expect(bytes[8 + 63]).toBe(0);
    expect(parseIpDiscovery(bytes).address).toBe(a63);
    expectBadPacket(() => encodeIpDiscovery({ type: 2, ssrc: 1, address: '1'.repeat(64), port: 2 }));
  });

  it('round-trips arbitrary IPv4 addresses, ports and SSRCs (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), (address, port, ssrc) => {
        const packet = { type: IP_DISCOVERY_RESPONSE, ssrc, address, port } as const;
        const bytes = encodeIpDiscovery(packet);
        expect(bytes).toEqual(handResponse(ssrc, address, port));
        expect(parseIpDiscovery(bytes)).toEqual(packet);
      }),
      { numRuns: 500 },
    );
  });
});

describe('parseIpDiscovery', () => {
  it('parses a hand-built response', () => {
    expect(parseIpDiscovery(handResponse(0x11223344, '198.51.100.2', 61234))).toEqual({
      type: 2,
      ssrc: 0x11223344,
      address: '198.51.100.2',
      port: 61234,
    });
  });

  it('ignores bytes after the NUL terminator', () => {
    const b = handResponse(1, '10.0.0.1', 5);
    b.write('garbage!', 8 + 9, 'latin1');
    expect(parseIpDiscovery(b).address).toBe('10.0.0.1');
  });

  it('stops at byte 72 when the address field has no NUL (port bytes are not address)', () => {
    const b = handResponse(1, '', 0x3132);
    b.fill(0x31, 8, 72);
    const parsed = parseIpDiscovery(b);
    expect(parsed.address).toBe('1'.repeat(64));
    expect(parsed.port).toBe(0x3132);
  });

  it('parses a datagram inside a larger buffer (byteOffset ≠ 0)', () => {
    const inner = handResponse(9, '1.2.3.4', 80);
    const outer = Buffer.concat([Buffer.from([0xff, 0xff, 0xff]), inner, Buffer.from([0xff])]);
    const view = new Uint8Array(outer.buffer, outer.byteOffset + 3, 74);
    expect(parseIpDiscovery(view)).toEqual({ type: 2, ssrc: 9, address: '1.2.3.4', port: 80 });
  });

  it('rejects wrong sizes', () => {
    const ok = handResponse(1, '1.2.3.4', 1);
    for (const n of [0, 1, 8, 73]) expectBadPacket(() => parseIpDiscovery(ok.subarray(0, n)));
    expectBadPacket(() => parseIpDiscovery(Buffer.concat([ok, Buffer.alloc(1)])));
    expect(isIpDiscovery(ok.subarray(0, 73))).toBe(false);
  });

  it('rejects wrong types and length fields', () => {
    for (const [at, value] of [
      [1, 0],
      [1, 3],
      [0, 1],
      [3, 74],
      [3, 0],
      [2, 1],
    ] as const) {
      const b = handResponse(1, '1.2.3.4', 1);
      b[at] = value;
      expect(isIpDiscovery(b)).toBe(false);
      expectBadPacket(() => parseIpDiscovery(b));
    }
  });

  it('rejects an address that is not IP address text', () => {
    for (const address of ['1.2.3.4 ', 'evil\nhost', '<script>', '1.2.3.4/24', '\xff\xfe']) {
      expectBadPacket(() => parseIpDiscovery(handResponse(1, address, 1)));
    }
  });
});
