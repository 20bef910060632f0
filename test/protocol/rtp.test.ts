import fc from 'fast-check';
import {
  OPUS_PAYLOAD_TYPE,
  RTP_HEADER_SIZE,
  encodeRtpHeader,
  parseRtpHeader,
  rtpHeaderSize,
  rtpHeaderSizeOf,
  sequenceDelta,
  stripRtpExtras,
  timestampDelta,
  writeRtpHeader,
  type RtpHeader,
  type RtpHeaderInit,
} from '../../src/protocol/rtp';
import { expectProtocolError } from '../helpers/expectProtocolError';


function header(init: Partial<RtpHeader> & Pick<RtpHeader, 'sequence' | 'timestamp' | 'ssrc'>): RtpHeader {
  return {
    version: 2,
    padding: false,
    marker: false,
    payloadType: OPUS_PAYLOAD_TYPE,
    csrcs: [],
    extension: null,
    ...init,
  };
}

/** The header `parseRtpHeader` should return for `init`, with fields wrapped as on the wire. */
function expected(init: RtpHeaderInit): RtpHeader {
  return {
    version: 2,
    padding: init.padding ?? false,
    marker: init.marker ?? false,
    payloadType: init.payloadType ?? OPUS_PAYLOAD_TYPE,
    sequence: init.sequence & 0xffff,
    timestamp: init.timestamp >>> 0,
    ssrc: init.ssrc >>> 0,
    csrcs: (init.csrcs ?? []).map((c) => c >>> 0),
    extension: init.extension ? { profile: init.extension.profile & 0xffff, length: init.extension.length & 0xffff } : null,
  };
}

describe('constants', () => {
  it('match the wire facts', () => {
    expect(RTP_HEADER_SIZE).toBe(12);
    expect(OPUS_PAYLOAD_TYPE).toBe(120);
  });
});

describe('encodeRtpHeader', () => {
  it('writes the Discord default header byte for byte', () => {
    const out = encodeRtpHeader({ sequence: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304 });
    expect(out.toString('hex')).toBe('80781234deadbeef01020304');
  });

  it('sets the P, X, M bits and the CSRC count in the first two bytes', () => {
    const out = encodeRtpHeader({
      sequence: 1,
      timestamp: 2,
      ssrc: 3,
      padding: true,
      marker: true,
      csrcs: [0xaabbccdd, 5],
      extension: { profile: 0xbede, length: 3 },
    });
    expect(out.length).toBe(12 + 8 + 4);
    expect(out[0]).toBe(0x80 | 0x20 | 0x10 | 2);
    expect(out[1]).toBe(0x80 | 120);
    expect(out.subarray(12).toString('hex')).toBe('aabbccdd' + '00000005' + 'bede0003');
  });

  it('wraps sequence, timestamp, ssrc and CSRCs to their field widths', () => {
    const { header: h } = parseRtpHeader(
      encodeRtpHeader({ sequence: 65536 + 7, timestamp: 2 ** 32 + 960, ssrc: -1, csrcs: [-2] }),
    );
    expect(h.sequence).toBe(7);
    expect(h.timestamp).toBe(960);
    expect(h.ssrc).toBe(0xffffffff);
    expect(h.csrcs).toEqual([0xfffffffe]);
  });

  it('rejects 16 CSRCs and out-of-range payload types with RTP_BAD_FIELD', () => {
    const csrcs = Array.from({ length: 16 }, (_, i) => i);
    expectProtocolError(() => encodeRtpHeader({ sequence: 0, timestamp: 0, ssrc: 0, csrcs }), 'RTP_BAD_FIELD');
    for (const payloadType of [-1, 128, 255, Number.NaN]) {
      expectProtocolError(() => encodeRtpHeader({ sequence: 0, timestamp: 0, ssrc: 0, payloadType }), 'RTP_BAD_FIELD');
    }
  });
});

describe('writeRtpHeader', () => {
  it('writes at an offset without touching the surrounding bytes and returns the size', () => {
    const target = new Uint8Array(40).fill(0xee);
    const init: RtpHeaderInit = { sequence: 9, timestamp: 10, ssrc: 11, csrcs: [1], extension: { profile: 0xbede, length: 1 } };
    const n = writeRtpHeader(target, init, 5);
    expect(n).toBe(20);
    expect(n).toBe(rtpHeaderSizeOf(init));
    expect(target.subarray(0, 5).every((b) => b === 0xee)).toBe(true);
    expect(target.subarray(25).every((b) => b === 0xee)).toBe(true);
    expect(Buffer.from(target.subarray(5, 25))).toEqual(encodeRtpHeader(init));
  });

  it('writes into a view with a byteOffset into a larger buffer', () => {
    const backing = Buffer.alloc(64);
    const view = backing.subarray(10, 30);
    writeRtpHeader(view, { sequence: 0xabcd, timestamp: 1, ssrc: 2 }, 2);
    expect(backing.subarray(12, 24).toString('hex')).toBe('8078abcd0000000100000002');
  });

  it('throws RTP_TOO_SHORT when the target is too small', () => {
    expectProtocolError(() => writeRtpHeader(new Uint8Array(11), { sequence: 0, timestamp: 0, ssrc: 0 }), 'RTP_TOO_SHORT');
    expectProtocolError(() => writeRtpHeader(new Uint8Array(16), { sequence: 0, timestamp: 0, ssrc: 0 }, 5), 'RTP_TOO_SHORT');
    expectProtocolError(
      () => writeRtpHeader(new Uint8Array(15), { sequence: 0, timestamp: 0, ssrc: 0, extension: { profile: 0xbede, length: 0 } }),
      'RTP_TOO_SHORT',
    );
  });
});

describe('rtpHeaderSizeOf', () => {
  it('counts CSRCs and the extension header', () => {
    expect(rtpHeaderSizeOf({})).toBe(12);
    expect(rtpHeaderSizeOf({ csrcs: [1, 2, 3] })).toBe(24);
    expect(rtpHeaderSizeOf({ extension: { profile: 0xbede, length: 100 } })).toBe(16);
    expect(rtpHeaderSizeOf({ csrcs: new Array<number>(15).fill(0), extension: { profile: 0, length: 0 } })).toBe(12 + 60 + 4);
    expect(rtpHeaderSizeOf({ extension: null })).toBe(12);
  });
});

describe('round trips encodeRtpHeader → parseRtpHeader', () => {
  const cases: Array<[string, RtpHeaderInit]> = [
    ['minimal', { sequence: 0, timestamp: 0, ssrc: 0 }],
    ['all ones', { sequence: 0xffff, timestamp: 0xffffffff, ssrc: 0xffffffff }],
    ['marker', { sequence: 1, timestamp: 960, ssrc: 42, marker: true }],
    ['padding', { sequence: 2, timestamp: 1920, ssrc: 42, padding: true }],
    ['payload type 0', { sequence: 3, timestamp: 3, ssrc: 3, payloadType: 0 }],
    ['payload type 127 + marker', { sequence: 3, timestamp: 3, ssrc: 3, payloadType: 127, marker: true }],
    ['extension 0xBEDE len 0', { sequence: 4, timestamp: 4, ssrc: 4, extension: { profile: 0xbede, length: 0 } }],
    ['extension 0xBEDE len 1', { sequence: 4, timestamp: 4, ssrc: 4, extension: { profile: 0xbede, length: 1 } }],
    ['extension 0xBEDE len 7', { sequence: 4, timestamp: 4, ssrc: 4, extension: { profile: 0xbede, length: 7 } }],
    ['extension 0xBEDE len 0xffff', { sequence: 4, timestamp: 4, ssrc: 4, extension: { profile: 0xbede, length: 0xffff } }],
    ['extension profile 0x1000 (two-byte form)', { sequence: 4, timestamp: 4, ssrc: 4, extension: { profile: 0x1000, length: 2 } }],
    [
      'everything',
      {
        sequence: 65535,
        timestamp: 123456789,
        ssrc: 0xcafebabe,
        marker: true,
        padding: true,
        csrcs: [1, 0xffffffff, 0x80000000],
        extension: { profile: 0xbede, length: 3 },
      },
    ],
  ];
  for (let cc = 0; cc <= 15; cc++) {
    cases.push([`${cc} CSRCs`, { sequence: cc, timestamp: cc * 960, ssrc: 1000 + cc, csrcs: Array.from({ length: cc }, (_, i) => 0x11111111 * (i % 15) + i) }]);
    cases.push([
      `${cc} CSRCs + extension + padding`,
      {
        sequence: cc,
        timestamp: cc,
        ssrc: cc,
        padding: true,
        csrcs: Array.from({ length: cc }, (_, i) => i * 7919),
        extension: { profile: 0xbede, length: cc },
      },
    ]);
  }

  it.each(cases)('%s', (_name, init) => {
    const bytes = encodeRtpHeader(init);
    expect(bytes.length).toBe(rtpHeaderSizeOf(init));
    expect(rtpHeaderSize(bytes)).toBe(bytes.length);
    const { header: h, size } = parseRtpHeader(bytes);
    expect(size).toBe(bytes.length);
    expect(h).toEqual(expected(init));
    // the parsed header re-encodes to the same bytes
    expect(encodeRtpHeader(h)).toEqual(bytes);
  });

  it('parses a header followed by payload, and inside a larger buffer', () => {
    const init: RtpHeaderInit = { sequence: 77, timestamp: 88, ssrc: 99, csrcs: [5, 6], extension: { profile: 0xbede, length: 1 } };
    const hdr = encodeRtpHeader(init);
    const backing = Buffer.concat([Buffer.from([1, 2, 3]), hdr, Buffer.from('opus payload')]);
    const view = backing.subarray(3);
    const { header: h, size } = parseRtpHeader(view);
    expect(size).toBe(hdr.length);
    expect(h).toEqual(expected(init));
    // a plain Uint8Array (not a Buffer) with a byteOffset works too
    const u8 = new Uint8Array(backing.buffer, backing.byteOffset + 3, backing.length - 3);
    expect(parseRtpHeader(u8).header).toEqual(expected(init));
  });

  it('holds for arbitrary headers (property)', () => {
    const initArb: fc.Arbitrary<RtpHeaderInit> = fc.record({
      sequence: fc.integer({ min: 0, max: 0xffff }),
      timestamp: fc.integer({ min: 0, max: 0xffffffff }),
      ssrc: fc.integer({ min: 0, max: 0xffffffff }),
      payloadType: fc.integer({ min: 0, max: 127 }),
      marker: fc.boolean(),
      padding: fc.boolean(),
      csrcs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15, size: 'max' }),
      extension: fc.option(fc.record({ profile: fc.integer({ min: 0, max: 0xffff }), length: fc.integer({ min: 0, max: 0xffff }) })),
    });
    fc.assert(
      fc.property(initArb, fc.uint8Array({ maxLength: 32, size: 'max' }), (init, tail) => {
        const hdr = encodeRtpHeader(init);
        const { header: h, size } = parseRtpHeader(Buffer.concat([hdr, tail]));
        expect(size).toBe(hdr.length);
        expect(h).toEqual(expected(init));
      }),
      { numRuns: 500 },
    );
  });
});

describe('rtpHeaderSize / parseRtpHeader errors', () => {
  it('throws RTP_TOO_SHORT below 12 bytes', () => {
    for (let n = 0; n < 12; n++) {
      expectProtocolError(() => rtpHeaderSize(new Uint8Array(n).fill(0x80)), 'RTP_TOO_SHORT');
      expectProtocolError(() => parseRtpHeader(new Uint8Array(n).fill(0x80)), 'RTP_TOO_SHORT');
    }
  });

  it('throws RTP_TOO_SHORT when the CSRCs or the extension header do not fit', () => {
    const full = encodeRtpHeader({ sequence: 1, timestamp: 1, ssrc: 1, csrcs: [1, 2, 3], extension: { profile: 0xbede, length: 2 } });
    expect(full.length).toBe(28);
    for (let n = 12; n < full.length; n++) {
      expectProtocolError(() => rtpHeaderSize(full.subarray(0, n)), 'RTP_TOO_SHORT');
      expectProtocolError(() => parseRtpHeader(full.subarray(0, n)), 'RTP_TOO_SHORT');
    }
    expect(rtpHeaderSize(full)).toBe(28);
  });

  it('reads the size from the first byte alone', () => {
    const p = new Uint8Array(100);
    p[0] = 0x80 | 0x10 | 15;
    expect(rtpHeaderSize(p)).toBe(12 + 60 + 4);
    p[0] = 0x80 | 0x20; // P does not count
    expect(rtpHeaderSize(p)).toBe(12);
  });

  it('throws RTP_BAD_VERSION for versions 0, 1 and 3', () => {
    for (const v of [0, 1, 3]) {
      const p = encodeRtpHeader({ sequence: 1, timestamp: 1, ssrc: 1 });
      p[0] = (v << 6) | (p[0] & 0x3f);
      expectProtocolError(() => parseRtpHeader(p), 'RTP_BAD_VERSION');
    }
  });
});

describe('stripRtpExtras', () => {
  const base = header({ sequence: 0, timestamp: 0, ssrc: 0 });
  const opus = Buffer.from([0xfc, 0x01, 0x02, 0x03, 0x04]);

  it('returns the payload as is without X and P', () => {
    const out = stripRtpExtras(base, opus);
    expect(Buffer.from(out)).toEqual(opus);
  });

  it('strips 4 × length bytes of extension body', () => {
    for (const length of [0, 1, 2, 5]) {
      const body = Buffer.alloc(4 * length, 0xab);
      const out = stripRtpExtras({ ...base, extension: { profile: 0xbede, length } }, Buffer.concat([body, opus]));
      expect(Buffer.from(out)).toEqual(opus);
    }
  });

  it('strips RTP padding whose last byte is its length', () => {
    for (const pad of [1, 2, 3, 4, 255]) {
      const padding = Buffer.alloc(pad);
      padding[pad - 1] = pad;
      const out = stripRtpExtras({ ...base, padding: true }, Buffer.concat([opus, padding]));
      expect(Buffer.from(out)).toEqual(opus);
    }
  });

  it('strips extension body and padding together', () => {
    const decrypted = Buffer.concat([Buffer.from('EXT1EXT2'), opus, Buffer.from([0, 0, 3])]);
    const out = stripRtpExtras({ ...base, padding: true, extension: { profile: 0xbede, length: 2 } }, decrypted);
    expect(Buffer.from(out)).toEqual(opus);
  });

  it('returns a view, not a copy', () => {
    const decrypted = Buffer.concat([Buffer.from('EXT1'), opus]);
    const out = stripRtpExtras({ ...base, extension: { profile: 0xbede, length: 1 } }, decrypted);
    expect(out.buffer).toBe(decrypted.buffer);
    expect(out.byteOffset).toBe(decrypted.byteOffset + 4);
  });

  it('allows padding that consumes the whole payload and an extension that fills it', () => {
    expect(stripRtpExtras({ ...base, padding: true }, Buffer.from([0, 0, 3])).length).toBe(0);
    expect(stripRtpExtras({ ...base, extension: { profile: 0xbede, length: 1 } }, Buffer.from('EXT1')).length).toBe(0);
    expect(stripRtpExtras({ ...base, padding: true, extension: { profile: 0xbede, length: 1 } }, Buffer.from('EXT1\x01')).length).toBe(0);
  });

  it('throws RTP_TOO_SHORT when the extension body exceeds the payload', () => {
    expectProtocolError(() => stripRtpExtras({ ...base, extension: { profile: 0xbede, length: 2 } }, Buffer.alloc(7)), 'RTP_TOO_SHORT');
  });

  it('throws RTP_BAD_PADDING for empty, zero or oversized padding', () => {
    const p = { ...base, padding: true };
    expectProtocolError(() => stripRtpExtras(p, Buffer.alloc(0)), 'RTP_BAD_PADDING');
    expectProtocolError(() => stripRtpExtras(p, Buffer.from([1, 2, 0])), 'RTP_BAD_PADDING');
    expectProtocolError(() => stripRtpExtras(p, Buffer.from([1, 2, 4])), 'RTP_BAD_PADDING');
    const pe = { ...p, extension: { profile: 0xbede, length: 1 } };
    expectProtocolError(() => stripRtpExtras(pe, Buffer.from('EXT1')), 'RTP_BAD_PADDING');
    // padding may not reach into the extension body
    expectProtocolError(() => stripRtpExtras(pe, Buffer.from('EXT1\x00\x03')), 'RTP_BAD_PADDING');
  });
});

describe('sequenceDelta', () => {
  it.each([
    [5, 3, 2],
    [3, 5, -2],
    [0, 65535, 1],
    [65535, 0, -1],
    [1, 65535, 2],
    [65535, 1, -2],
    [32767, 0, 32767],
    [0, 32768, -32768],
    [32768, 0, -32768],
    [100, 100, 0],
  ])('sequenceDelta(%i, %i) = %i', (a, b, d) => {
    expect(sequenceDelta(a, b)).toBe(d);
  });

  it('is the signed 16-bit difference (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (a, b) => {
        const d = sequenceDelta(a, b);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(-32768);
        expect(d).toBeLessThanOrEqual(32767);
        expect((b + d) & 0xffff).toBe(a);
      }),
      { numRuns: 1000 },
    );
  });

  it('sees the next packets after a wrap as later', () => {
    let seq = 65530;
    for (let i = 0; i < 20; i++) {
      const next = (seq + 1) & 0xffff;
      expect(sequenceDelta(next, seq)).toBe(1);
      seq = next;
    }
  });
});

describe('timestampDelta', () => {
  it.each([
    [960, 0, 960],
    [0, 960, -960],
    [0, 0xffffffff, 1],
    [0xffffffff, 0, -1],
    [480, 0xffffffff - 479, 960],
    [0x7fffffff, 0, 0x7fffffff],
    [0x80000000, 0, -0x80000000],
  ])('timestampDelta(%i, %i) = %i', (a, b, d) => {
    expect(timestampDelta(a, b)).toBe(d);
  });

  it('is the signed 32-bit difference (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), (a, b) => {
        const d = timestampDelta(a, b);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(-(2 ** 31));
        expect(d).toBeLessThan(2 ** 31);
        expect((b + d) >>> 0).toBe(a);
      }),
      { numRuns: 1000 },
    );
  });

  it('advances by 960 per frame across the 2^32 wrap', () => {
    let ts = 0xffffffff - 960 * 3;
    for (let i = 0; i < 10; i++) {
      const next = (ts + 960) >>> 0;
      expect(timestampDelta(next, ts)).toBe(960);
      ts = next;
    }
  });
});
