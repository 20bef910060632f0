import fc from 'fast-check';
import { RxVoiceError } from '../../../src/errors';
import { decodeTrack, decodeTrackDetails, encodeTrack } from '../../../src/server/lavalink/trackCodec';
import type { TrackInfo } from '../../../src/server/lavalink/types';

/** The encoded track in Lavalink's docs/api/rest.md ("Track Decoding") and websocket.md events. */
const RICK =
  'QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXAADlJpY2tBc3RsZXlWRVZPAAAAAAADPCAAC2RRdzR3OVdnWGNRAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9ZFF3NHc5V2dYY1EAB3lvdXR1YmUAAAAAAAAAAA==';
/** The encoded track in Lavalink's docs/api/Insomnia.json. */
const ARCHITECTS =
  'QAAAgQIAGEFyY2hpdGVjdHMgLSAiZGVlcCBmYWtlIgAPRXBpdGFwaCBSZWNvcmRzAAAAAAADQ/AAC1RuQ1VKVlBRSDNJAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9VG5DVUpWUFFIM0kAB3lvdXR1YmUAAAAAAAAAAA==';

const LONG_MAX = 9223372036854775807;

function info(over: Partial<TrackInfo> = {}): TrackInfo {
  return {
    identifier: 'http://example.com/a.mp3',
    isSeekable: true,
    author: 'Rx',
    length: 2000,
    isStream: false,
    position: 0,
    title: 'Tone',
    uri: 'http://example.com/a.mp3',
    artworkUrl: null,
    isrc: null,
    sourceName: 'http',
    ...over,
  };
}

function expectBadTrack(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RxVoiceError);
    expect((e as RxVoiceError).code).toBe('BAD_TRACK');
    return;
  }
}

describe('decodeTrack: Lavalink docs examples', () => {
  it('decodes the rest.md example (a version 2 track: no artworkUrl/isrc in the bytes)', () => {
    const d = decodeTrackDetails(RICK);
    expect(d.version).toBe(2);
    expect(d.probeInfo).toBeNull();
    expect(d.details.length).toBe(0);
    // The docs' JSON shows an artworkUrl, but a version 2 track has no field for it.
    expect(d.info).toEqual({
      identifier: 'dQw4w9WgXcQ',
      isSeekable: true,
      author: 'RickAstleyVEVO',
      length: 212000,
      isStream: false,
      position: 0,
      title: 'Rick Astley - Never Gonna Give You Up',
      uri: 'https://www.youtube.com/watch?v=dQw4w9WgXcQ',
      artworkUrl: null,
      isrc: null,
      sourceName: 'youtube',
    });
  });

  it('decodes the Insomnia.json example', () => {
    const i = decodeTrack(ARCHITECTS);
    expect(i.title).toBe('Architects - "deep fake"');
    expect(i.author).toBe('Epitaph Records');
    expect(i.length).toBe(214000);
    expect(i.identifier).toBe('TnCUJVPQH3I');
    expect(i.uri).toBe('https://www.youtube.com/watch?v=TnCUJVPQH3I');
    expect(i.sourceName).toBe('youtube');
    expect(i.isStream).toBe(false);
  });

  it('re-encodes the doc examples byte for byte (as the version they were read with)', () => {
    expect(encodeTrack(decodeTrackDetails(RICK))).toBe(RICK);
    expect(encodeTrack(decodeTrackDetails(ARCHITECTS))).toBe(ARCHITECTS);
    // As version 3: the same plus two "absent" bytes (artworkUrl, isrc).
    const v3 = Buffer.from(encodeTrack({ info: decodeTrack(RICK) }), 'base64');
    expect(v3.length).toBe(Buffer.from(RICK, 'base64').length + 2);
    expect(v3[4]).toBe(3);
  });

  it('re-encodes a version 3 track byte for byte', () => {
    const first = encodeTrack({ info: decodeTrack(RICK) });
    expect(encodeTrack(decodeTrackDetails(first))).toBe(first);
    expect(decodeTrackDetails(first).version).toBe(3);
    expect(decodeTrack(first)).toEqual(decodeTrack(RICK));
  });
});

describe('encodeTrack → decodeTrack', () => {
  it('round-trips an http track with its probe', () => {
    const enc = encodeTrack({ info: info(), probeInfo: 'mp3' });
    const d = decodeTrackDetails(enc);
    expect(d.info).toEqual(info());
    expect(d.probeInfo).toBe('mp3');
    expect(d.version).toBe(3);
  });

  it('guesses the probe from the extension for http/local, none for other sources', () => {
    expect(decodeTrackDetails(encodeTrack({ info: info({ uri: 'http://x/y.flac?z=1' }) })).probeInfo).toBe('flac');
    expect(decodeTrackDetails(encodeTrack({ info: info({ sourceName: 'local', uri: '/m/a.webm', identifier: '/m/a.webm' }) })).probeInfo).toBe('matroska/webm');
    expect(decodeTrackDetails(encodeTrack({ info: info({ uri: 'http://x/stream', identifier: 'http://x/stream' }) })).probeInfo).toBe('mp3');
    expect(decodeTrackDetails(encodeTrack({ info: info({ sourceName: 'youtube' }) })).details.length).toBe(0);
  });

  it('round-trips emoji (surrogate pairs as 2 × 3 bytes), NUL (C0 80) and non-Latin text', () => {
    const title = 'Tone 🎵🔊 \u0000 end — Ünïcødé 日本語 \u{1F600}';
    const enc = encodeTrack({ info: info({ title, author: '\u0000', isrc: 'USRC17607839', artworkUrl: 'https://a/b.jpg' }) });
    const bytes = Buffer.from(enc, 'base64');
    // NUL is never a zero byte inside a text: C0 80.
    expect(bytes.includes(Buffer.from([0xc0, 0x80]))).toBe(true);
    // 🎵 U+1F3B5 = D83C DFB5 → ED A0 BC ED BE B5 (CESU-8 style), never a 4-byte UTF-8 sequence.
    expect(bytes.includes(Buffer.from([0xed, 0xa0, 0xbc, 0xed, 0xbe, 0xb5]))).toBe(true);
    expect(bytes.includes(Buffer.from('🎵', 'utf8'))).toBe(false);
    const back = decodeTrack(enc);
    expect(back.title).toBe(title);
    expect(back.author).toBe('\u0000');
    expect(back.isrc).toBe('USRC17607839');
    expect(back.artworkUrl).toBe('https://a/b.jpg');
  });

  it('keeps a stream length of Long.MAX_VALUE and positions', () => {
    const enc = encodeTrack({ info: info({ isStream: true, isSeekable: false, length: LONG_MAX, position: 61234 }) });
    const bytes = Buffer.from(enc, 'base64');
    expect(bytes.includes(Buffer.from('7fffffffffffffff', 'hex'))).toBe(true);
    const back = decodeTrack(enc);
    expect(back.length).toBe(LONG_MAX);
    expect(back.isStream).toBe(true);
    expect(back.isSeekable).toBe(false);
    expect(back.position).toBe(61234);
    expect(encodeTrack({ info: back })).toBe(enc);
  });

  it('refuses texts over 65535 bytes with BAD_TRACK', () => {
    expect(() => encodeTrack({ info: info({ title: 'é'.repeat(40000) }) })).toThrow(expect.objectContaining({ code: 'BAD_TRACK' }));
    expect(() => encodeTrack({ info: info({ length: Number.NaN }) })).toThrow(expect.objectContaining({ code: 'BAD_TRACK' }));
  });

  it('round-trips arbitrary infos (property)', () => {
    const nullable = fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: null });
    const arb = fc.record({
      identifier: fc.string({ unit: 'binary', maxLength: 60 }),
      author: fc.string({ unit: 'binary', maxLength: 60 }),
      title: fc.string({ unit: 'binary', maxLength: 60 }),
      length: fc.maxSafeNat(),
      position: fc.maxSafeNat(),
      isStream: fc.boolean(),
      uri: nullable,
      artworkUrl: nullable,
      isrc: nullable,
      sourceName: fc.constantFrom('http', 'local', 'youtube', 'soundcloud', 'spotify'),
      probe: fc.constantFrom('mp3', 'ogg', 'matroska/webm', 'mpegts-adts|x'),
    });
    fc.assert(
      fc.property(arb, ({ probe, ...r }) => {
        const i: TrackInfo = { ...r, isSeekable: !r.isStream };
        const enc = encodeTrack({ info: i, probeInfo: probe });
        const d = decodeTrackDetails(enc);
        expect(d.info).toEqual(i);
        if (r.sourceName === 'http' || r.sourceName === 'local') expect(d.probeInfo).toBe(probe);
        expect(encodeTrack(d)).toBe(enc);
      }),
      { numRuns: 300 },
    );
  });
});

describe('decodeTrack: versions and garbage', () => {
  function v1(): string {
    // A version 1 message: flags 0, no version byte, no uri.
    const parts: Buffer[] = [];
    const text = (s: string): void => {
      const b = Buffer.from(s, 'utf8');
      const n = Buffer.alloc(2);
      n.writeUInt16BE(b.length);
      parts.push(n, b);
    };
    text('Old');
    text('Author');
    const len = Buffer.alloc(8);
    len.writeBigInt64BE(5000n);
    parts.push(len);
    text('id1');
    parts.push(Buffer.from([0]));
    text('http');
    text('mp3');
    const pos = Buffer.alloc(8);
    pos.writeBigInt64BE(42n);
    parts.push(pos);
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    return Buffer.concat([head, body]).toString('base64');
  }

  it('reads version 1', () => {
    const d = decodeTrackDetails(v1());
    expect(d.version).toBe(1);
    expect(encodeTrack(d)).toBe(v1());
    expect(d.info).toMatchObject({ title: 'Old', author: 'Author', length: 5000, identifier: 'id1', uri: null, position: 42, sourceName: 'http' });
    expect(d.probeInfo).toBe('mp3');
  });

  it('accepts unpadded and URL-safe base64, ignores bytes after the message', () => {
    expect(decodeTrack(RICK.replace(/=+$/, ''))).toEqual(decodeTrack(RICK));
    const withTail = Buffer.concat([Buffer.from(RICK, 'base64'), Buffer.from([1, 2, 3])]).toString('base64url');
    expect(decodeTrack(withTail)).toEqual(decodeTrack(RICK));
  });

  it.each([
    ['empty', ''],
    ['not base64', 'not a track!'],
    ['too short', 'QAA='],
    ['size beyond data', 'QAAA/wI='],
    ['zero size', 'AAAAAAAA'],
    ['truncated', RICK.slice(0, 80)],
    ['version 4', Buffer.from([0x40, 0, 0, 1, 4]).toString('base64')],
    ['bad UTF-8', Buffer.from([0x40, 0, 0, 20, 3, 0, 2, 0xff, 0xfe, ...new Array<number>(15).fill(0)]).toString('base64')],
  ])('throws BAD_TRACK: %s', (_name, input) => {
    expect(() => decodeTrack(input)).toThrow(RxVoiceError);
    expect(() => decodeTrack(input)).toThrow(expect.objectContaining({ code: 'BAD_TRACK' }));
  });

  it('never throws anything but BAD_TRACK on random bytes or strings (fuzz)', () => {
    const header = fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 200 }));
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 220 }), ([flags, size], body) => {
        const h = Buffer.alloc(4);
        h.writeUInt32BE(((flags << 30) | size) >>> 0);
        expectBadTrack(() => decodeTrackDetails(Buffer.concat([h, body]).toString('base64')));
      }),
      { numRuns: 3000 },
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => expectBadTrack(() => decodeTrack(Buffer.from(b).toString('base64')))), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ maxLength: 200 }), (s) => expectBadTrack(() => decodeTrack(s))), { numRuns: 2000 });
  });

  it('never throws anything but BAD_TRACK on mutated valid tracks (fuzz)', () => {
    const valid = Buffer.from(encodeTrack({ info: info({ title: 'Tone 🎵', isrc: 'X' }) }), 'base64');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), (muts) => {
        const b = Buffer.from(valid);
        for (const [at, v] of muts) b[at] = v;
        expectBadTrack(() => decodeTrackDetails(b.toString('base64')));
      }),
      { numRuns: 3000 },
    );
  });
});
