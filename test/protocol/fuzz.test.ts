/**
 * Fuzzing of every parser in src/protocol with fast-check: random bytes, random strings and
 * mutated valid inputs. Each call either returns a well-formed result or throws a
 * ProtocolError with a known code; any other exception (RangeError, TypeError, a libsodium
 * or OpenSSL error…) fails the property.
 */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError, type ProtocolErrorCode } from '../../src/errors';
import { encodeIpDiscovery, encodeIpDiscoveryRequest, parseIpDiscovery } from '../../src/protocol/ipDiscovery';
import {
  encodeClientBinaryFrame,
  encodeServerBinaryFrame,
  encodeVoiceMessage,
  parseClientBinaryFrame,
  parseServerBinaryFrame,
  parseVoiceMessage,
} from '../../src/protocol/opcodes';
import { encodeRtpHeader, parseRtpHeader, rtpHeaderSize, stripRtpExtras, type RtpHeader, type RtpHeaderInit } from '../../src/protocol/rtp';
import { createTransportCipher, type EncryptionMode, type OpenedPacket } from '../../src/protocol/transportCrypto';

const NUM_RUNS = 2000;
const RUNS = { numRuns: NUM_RUNS };

// fast-check's default size ('small') caps generated arrays and strings at ~10 elements, which
// would never reach past a 12-byte RTP header; 'medium' spans the whole maxLength range.
fc.configureGlobal({ ...fc.readConfigureGlobal(), baseSize: 'medium' });

const KNOWN_CODES: ReadonlySet<ProtocolErrorCode> = new Set<ProtocolErrorCode>([
  'RTP_TOO_SHORT',
  'RTP_BAD_VERSION',
  'RTP_BAD_PADDING',
  'RTP_BAD_FIELD',
  'IP_DISCOVERY_BAD_PACKET',
  'GATEWAY_BAD_PAYLOAD',
  'GATEWAY_BAD_BINARY_FRAME',
  'CRYPTO_UNKNOWN_MODE',
  'CRYPTO_BAD_KEY',
  'CRYPTO_PACKET_TOO_SHORT',
  'CRYPTO_AUTH_FAILED',
]);

type Outcome<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

/**
 * Runs `fn`. A return or a ProtocolError with a known code is fine and is handed back; any
 * other exception is rethrown wrapped so fast-check reports it (and shrinks the input).
 * `allowed`, when given, narrows the codes accepted.
 */
function expectOnlyProtocolErrors<T>(fn: () => T, allowed?: readonly ProtocolErrorCode[]): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (!(e instanceof ProtocolError)) {
      const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      throw new Error(`expected only ProtocolError, got ${what}`, { cause: e });
    }
    if (!KNOWN_CODES.has(e.code)) throw new Error(`ProtocolError with unknown code ${String(e.code)}`);
    if (allowed && !allowed.includes(e.code)) throw new Error(`unexpected ProtocolError code ${e.code}: ${e.message}`);
    return { ok: false, error: e };
  }
}

// ---- mutation of valid inputs ----------------------------------------------------------------

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);
const mutationsArb = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Uint8Array.from(input);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + (m.kind === 'insert' ? 1 : 0));
    switch (m.kind) {
      case 'flip':
        if (b.length) b[at] ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length) b[at] = m.value;
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'insert': {
        const out = new Uint8Array(b.length + m.bytes.length);
        out.set(b.subarray(0, at));
        out.set(m.bytes, at);
        out.set(b.subarray(at), at + m.bytes.length);
        b = out;
        break;
      }
      case 'delete': {
        const removed = Math.min(m.count, b.length - at);
        const out = new Uint8Array(b.length - removed);
        out.set(b.subarray(0, at));
        out.set(b.subarray(at + removed), at);
        b = out;
        break;
      }
    }
  }
  return b;
}

function mutateString(input: string, mutations: readonly Mutation[]): string {
  const chars = [...input];
  for (const m of mutations) {
    const at = chars.length === 0 ? 0 : m.at % (chars.length + 1);
    switch (m.kind) {
      case 'flip':
      case 'set':
        if (at < chars.length) chars[at] = String.fromCharCode(m.kind === 'set' ? m.value : chars[at].charCodeAt(0) ^ (1 << m.bit));
        break;
      case 'truncate':
        chars.length = Math.min(chars.length, at);
        break;
      case 'insert':
        chars.splice(at, 0, ...Array.from(m.bytes, (x) => '{}[]":,0e-.\\ntu'[x % 15]));
        break;
      case 'delete':
        chars.splice(at, m.count);
        break;
    }
  }
  return chars.join('');
}

/** Random bytes, sometimes as a view with a byteOffset into a larger buffer. */
const bytesArb = (maxLength: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.uint8Array({ maxLength }), fc.nat({ max: 7 })).map(([b, off]) => {
    const backing = new Uint8Array(b.length + off + 3).fill(0xa5);
    backing.set(b, off);
    return backing.subarray(off, off + b.length);
  });

const rtpInitArb: fc.Arbitrary<RtpHeaderInit> = fc.record({
  sequence: fc.integer({ min: 0, max: 0xffff }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }),
  ssrc: fc.integer({ min: 0, max: 0xffffffff }),
  payloadType: fc.integer({ min: 0, max: 127 }),
  marker: fc.boolean(),
  padding: fc.boolean(),
  csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }),
  extension: fc.option(fc.record({ profile: fc.constantFrom(0xbede, 0x1000, 0), length: fc.integer({ min: 0, max: 8 }) })),
});

/** A valid header followed by a payload, as a receiver sees it. */
const rtpPacketArb = fc.tuple(rtpInitArb, fc.uint8Array({ maxLength: 64 })).map(([init, tail]) => Buffer.concat([encodeRtpHeader(init), tail]));

// ---- result validators ---------------------------------------------------------------------

function checkHeader(h: RtpHeader, size: number, input: Uint8Array): void {
  assert.equal(h.version, 2);
  assert.equal(size, 12 + 4 * h.csrcs.length + (h.extension ? 4 : 0));
  assert.ok(size <= input.length);
  assert.ok(h.csrcs.length <= 15);
  assert.ok(h.payloadType >= 0);
  assert.ok(h.payloadType <= 127);
  assert.ok(h.sequence >= 0);
  assert.ok(h.sequence <= 0xffff);
  assert.ok(h.timestamp >= 0);
  assert.ok(h.timestamp <= 0xffffffff);
  assert.ok(h.ssrc >= 0);
  assert.ok(h.ssrc <= 0xffffffff);
  // the parsed header re-encodes to exactly the bytes it came from
  assert.equal(Buffer.compare(encodeRtpHeader(h), Buffer.from(input.subarray(0, size))), 0);
}

function checkRtp(input: Uint8Array): void {
  const size = expectOnlyProtocolErrors(() => rtpHeaderSize(input), ['RTP_TOO_SHORT']);
  const parsed = expectOnlyProtocolErrors(() => parseRtpHeader(input), ['RTP_TOO_SHORT', 'RTP_BAD_VERSION']);
  if (parsed.ok) {
    checkHeader(parsed.value.header, parsed.value.size, input);
    assert.deepEqual(size, { ok: true, value: parsed.value.size });
  } else if (parsed.error.code === 'RTP_TOO_SHORT') {
    assert.equal(size.ok, false);
  } else {
    assert.equal(size.ok, true);
    assert.notEqual(input[0] >> 6, 2);
  }
}

describe('fuzz: RTP', () => {
  it('parseRtpHeader / rtpHeaderSize on random bytes', () => {
    fc.assert(fc.property(bytesArb(96), (b) => checkRtp(b)), RUNS);
  });

  it('parseRtpHeader / rtpHeaderSize on random bytes that look like v2', () => {
    fc.assert(
      fc.property(bytesArb(96), (b) => {
        if (b.length) b[0] = 0x80 | (b[0] & 0x3f);
        checkRtp(b);
      }),
      RUNS,
    );
  });

  it('parseRtpHeader / rtpHeaderSize on mutated valid packets', () => {
    fc.assert(fc.property(rtpPacketArb, mutationsArb, (p, ms) => checkRtp(mutate(p, ms))), RUNS);
  });

  it('stripRtpExtras on arbitrary headers and decrypted bytes', () => {
    const headerArb = fc.record({
      padding: fc.boolean(),
      extension: fc.option(fc.record({ profile: fc.integer({ min: 0, max: 0xffff }), length: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 0xffff })) })),
    });
    fc.assert(
      fc.property(headerArb, bytesArb(128), (hv, decrypted) => {
        const h: RtpHeader = { version: 2, marker: false, payloadType: 120, sequence: 0, timestamp: 0, ssrc: 0, csrcs: [], ...hv };
        const r = expectOnlyProtocolErrors(() => stripRtpExtras(h, decrypted), ['RTP_TOO_SHORT', 'RTP_BAD_PADDING']);
        if (r.ok) {
          const out = r.value;
          const start = h.extension ? 4 * h.extension.length : 0;
          assert.equal(out.buffer, decrypted.buffer);
          assert.equal(out.byteOffset, decrypted.byteOffset + start);
          const pad = h.padding ? decrypted[decrypted.length - 1] : 0;
          assert.equal(out.length, decrypted.length - start - pad);
          if (h.padding) assert.ok(pad > 0);
        }
      }),
      RUNS,
    );
  });
});

describe('fuzz: IP discovery', () => {
  function check(b: Uint8Array): void {
    const r = expectOnlyProtocolErrors(() => parseIpDiscovery(b), ['IP_DISCOVERY_BAD_PACKET']);
    if (r.ok) {
      assert.equal(b.length, 74);
      assert.ok([1, 2].includes(r.value.type));
      assert.match(r.value.address, /^[0-9A-Za-z.:%-]{0,64}$/);
      assert.ok(r.value.port >= 0);
      assert.ok(r.value.port <= 0xffff);
      assert.ok(r.value.ssrc >= 0);
      assert.ok(r.value.ssrc <= 0xffffffff);
      assert.equal(r.value.port, (b[72] << 8) | b[73]);
    }
  }

  it('parseIpDiscovery on random bytes', () => {
    fc.assert(fc.property(fc.oneof(bytesArb(100), fc.uint8Array({ minLength: 74, maxLength: 74 })), check), RUNS);
  });

  it('parseIpDiscovery on random 74-byte datagrams with a valid envelope', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 74, maxLength: 74 }), fc.constantFrom(1, 2), (b, type) => {
        b[0] = 0;
        b[1] = type;
        b[2] = 0;
        b[3] = 70;
        check(b);
      }),
      RUNS,
    );
  });

  it('parseIpDiscovery on mutated valid requests and responses', () => {
    const validArb = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }).map(encodeIpDiscoveryRequest),
      fc
        .tuple(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }))
        .map(([address, port, ssrc]) => encodeIpDiscovery({ type: 2, ssrc, address, port })),
    );
    fc.assert(fc.property(validArb, mutationsArb, (p, ms) => check(mutate(p, ms))), RUNS);
  });
});

describe('fuzz: gateway messages', () => {
  function check(text: string): void {
    const r = expectOnlyProtocolErrors(() => parseVoiceMessage(text), ['GATEWAY_BAD_PAYLOAD']);
    if (r.ok) {
      assert.equal(Number.isInteger(r.value.op), true);
      if ('seq' in r.value) assert.equal(Number.isInteger(r.value.seq), true);
      assert.equal(Object.keys(r.value).every((k) => k === 'op' || k === 'd' || k === 'seq'), true);
    }
  }

  it('parseVoiceMessage on random strings', () => {
    fc.assert(fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.constantFrom(...'{}[]":,0123456789.eE-+ opdseqtrufnl'.split('')) })), check), RUNS);
  });

  it('parseVoiceMessage on arbitrary JSON', () => {
    fc.assert(fc.property(fc.json(), check), RUNS);
  });

  it('parseVoiceMessage on envelopes with arbitrary op/d/seq values', () => {
    const valueArb = fc.oneof(fc.jsonValue(), fc.integer(), fc.double(), fc.constant(null));
    fc.assert(
      fc.property(fc.option(valueArb, { nil: undefined }), fc.option(valueArb, { nil: undefined }), fc.option(valueArb, { nil: undefined }), (op, d, seq) => {
        check(JSON.stringify({ op, d, seq }));
      }),
      RUNS,
    );
  });

  it('parseVoiceMessage on mutated valid messages', () => {
    const validArb = fc
      .tuple(fc.integer({ min: 0, max: 31 }), fc.jsonValue(), fc.option(fc.nat({ max: 0xffff }), { nil: undefined }))
      .map(([op, d, seq]) => encodeVoiceMessage(seq === undefined ? { op, d } : { op, d, seq }));
    fc.assert(fc.property(validArb, mutationsArb, (text, ms) => check(mutateString(text, ms))), RUNS);
  });

  it('parseServerBinaryFrame on random and mutated frames', () => {
    const frameArb = fc.oneof(
      bytesArb(64),
      fc
        .tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 25, max: 30 }), fc.uint8Array({ maxLength: 64 }), mutationsArb)
        .map(([seq, op, payload, ms]) => mutate(encodeServerBinaryFrame(seq, op, payload), ms)),
    );
    fc.assert(
      fc.property(frameArb, (b) => {
        const r = expectOnlyProtocolErrors(() => parseServerBinaryFrame(b), ['GATEWAY_BAD_BINARY_FRAME']);
        if (r.ok) {
          assert.equal(r.value.seq, (b[0] << 8) | b[1]);
          assert.equal(r.value.op, b[2]);
          assert.equal(r.value.payload.length, b.length - 3);
          assert.equal(Buffer.compare(r.value.payload, Buffer.from(b.subarray(3))), 0);
        } else {
          assert.ok(b.length < 3);
        }
      }),
      RUNS,
    );
  });

  it('parseClientBinaryFrame on random and mutated frames', () => {
    const frameArb = fc.oneof(
      bytesArb(64),
      fc
        .tuple(fc.integer({ min: 25, max: 31 }), fc.uint8Array({ maxLength: 64 }), mutationsArb)
        .map(([op, payload, ms]) => mutate(encodeClientBinaryFrame(op, payload), ms)),
    );
    fc.assert(
      fc.property(frameArb, (b) => {
        const r = expectOnlyProtocolErrors(() => parseClientBinaryFrame(b), ['GATEWAY_BAD_BINARY_FRAME']);
        if (r.ok) {
          assert.equal(r.value.op, b[0]);
          assert.equal(Buffer.compare(r.value.payload, Buffer.from(b.subarray(1))), 0);
        } else {
          assert.equal(b.length, 0);
        }
      }),
      RUNS,
    );
  });
});

describe.each(['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'] as const)('fuzz: %s open', (mode: EncryptionMode) => {
  const key = Buffer.from('c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc', 'hex');
  const cipher = createTransportCipher(mode, key);
  const OPEN_CODES: readonly ProtocolErrorCode[] = ['RTP_TOO_SHORT', 'RTP_BAD_VERSION', 'RTP_BAD_PADDING', 'CRYPTO_PACKET_TOO_SHORT', 'CRYPTO_AUTH_FAILED'];

  function open(b: Uint8Array): Outcome<OpenedPacket> {
    return expectOnlyProtocolErrors(() => cipher.open(b), OPEN_CODES);
  }

  /** A valid sealed packet: header (CSRCs, extension, padding as drawn) ‖ AEAD ‖ counter. */
  const sealedArb = fc
    .tuple(rtpInitArb, fc.uint8Array({ maxLength: 48 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([init, opus, pad, counter]) => {
      const header = encodeRtpHeader(init);
      const extBody = new Uint8Array(4 * (init.extension?.length ?? 0)).fill(0x42);
      const padding = new Uint8Array(init.padding ? pad : 0);
      if (init.padding) padding[pad - 1] = pad;
      const plain = Buffer.concat([extBody, opus, padding]);
      return { packet: cipher.seal(header, plain, counter), opus: Buffer.from(opus), counter };
    });

  it('opens every valid packet', () => {
    fc.assert(
      fc.property(sealedArb, ({ packet, opus, counter }) => {
        const r = open(packet);
        assert.equal(r.ok, true);
        if (r.ok) {
          assert.deepEqual(r.value.payload, opus);
          assert.equal(r.value.nonce, counter);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('authentic packets with arbitrary (possibly inconsistent) contents: payload or a parse error', () => {
    fc.assert(
      fc.property(rtpInitArb, fc.uint8Array({ maxLength: 64 }), (init, plain) => {
        const r = expectOnlyProtocolErrors(() => cipher.open(cipher.seal(encodeRtpHeader(init), plain, 1)), ['RTP_TOO_SHORT', 'RTP_BAD_PADDING']);
        const start = 4 * (init.extension?.length ?? 0);
        if (r.ok) {
          const pad = init.padding ? plain[plain.length - 1] : 0;
          assert.equal(Buffer.compare(r.value.payload, Buffer.from(plain.subarray(start, plain.length - pad))), 0);
        } else {
          assert.ok(start > plain.length || init.padding);
        }
      }),
      RUNS,
    );
  });

  it('random bytes: only ProtocolErrors', () => {
    fc.assert(
      fc.property(bytesArb(96), fc.boolean(), (b, v2) => {
        if (v2 && b.length) b[0] = 0x80 | (b[0] & 0x3f);
        const r = open(b);
        // forging a 16-byte tag by chance does not happen
        assert.equal(r.ok, false);
      }),
      RUNS,
    );
  });

  it('mutated valid packets: never open, only ProtocolErrors', () => {
    fc.assert(
      fc.property(sealedArb, mutationsArb, ({ packet }, ms) => {
        const m = mutate(packet, ms);
        const r = open(m);
        if (Buffer.compare(Buffer.from(m), packet) === 0) assert.equal(r.ok, true);
        else assert.equal(r.ok, false);
      }),
      RUNS,
    );
  });
});
