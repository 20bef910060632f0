import fc from 'fast-check';
import {
  BINARY_OPCODES,
  SpeakingFlags,
  VoiceOpcode,
  encodeClientBinaryFrame,
  encodeServerBinaryFrame,
  encodeVoiceMessage,
  parseClientBinaryFrame,
  parseServerBinaryFrame,
  parseVoiceMessage,
  type KnownVoiceMessage,
  type VoiceMessage,
} from '../../src/protocol/opcodes';
import { expectProtocolError } from '../helpers/expectProtocolError';


describe('VoiceOpcode', () => {
  it('has the gateway v8 and DAVE values', () => {
    expect(VoiceOpcode).toEqual({
      Identify: 0,
      SelectProtocol: 1,
      Ready: 2,
      Heartbeat: 3,
      SessionDescription: 4,
      Speaking: 5,
      HeartbeatAck: 6,
      Resume: 7,
      Hello: 8,
      Resumed: 9,
      ClientsConnect: 11,
      ClientFlags: 12,
      ClientDisconnect: 13,
      ClientPlatform: 20,
      DavePrepareTransition: 21,
      DaveExecuteTransition: 22,
      DaveTransitionReady: 23,
      DavePrepareEpoch: 24,
      DaveMlsExternalSender: 25,
      DaveMlsKeyPackage: 26,
      DaveMlsProposals: 27,
      DaveMlsCommitWelcome: 28,
      DaveMlsAnnounceCommitTransition: 29,
      DaveMlsWelcome: 30,
      DaveMlsInvalidCommitWelcome: 31,
    });
  });

  it('marks exactly ops 25–30 as binary', () => {
    expect([...BINARY_OPCODES].sort((a, b) => a - b)).toEqual([25, 26, 27, 28, 29, 30]);
    for (const op of [21, 22, 23, 24, 31]) expect(BINARY_OPCODES.has(op)).toBe(false);
  });

  it('has the speaking flags', () => {
    expect(SpeakingFlags).toEqual({ Microphone: 1, Soundshare: 2, Priority: 4 });
  });
});

describe('JSON messages', () => {
  const samples: KnownVoiceMessage[] = [
    { op: 0, d: { server_id: '1', user_id: '2', session_id: 's', token: 't', max_dave_protocol_version: 1 } },
    { op: 1, d: { protocol: 'udp', data: { address: '203.0.113.1', port: 50000, mode: 'aead_aes256_gcm_rtpsize' } } },
    { op: 2, d: { ssrc: 1, ip: '127.0.0.1', port: 1234, modes: ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'] }, seq: 1 },
    { op: 3, d: { t: 1700000000000, seq_ack: -1 } },
    { op: 4, d: { mode: 'aead_aes256_gcm_rtpsize', secret_key: Array.from({ length: 32 }, (_, i) => i), dave_protocol_version: 1 }, seq: 2 },
    { op: 5, d: { speaking: 1, delay: 0, ssrc: 42, user_id: '99' }, seq: 3 },
    { op: 6, d: { t: 1700000000000 }, seq: 4 },
    { op: 7, d: { server_id: '1', session_id: 's', token: 't', seq_ack: 4 } },
    { op: 8, d: { heartbeat_interval: 13750 } },
    { op: 9, d: null, seq: 5 },
    { op: 11, d: { user_ids: ['1', '2'] }, seq: 6 },
    { op: 13, d: { user_id: '2' }, seq: 7 },
    { op: 21, d: { protocol_version: 0, transition_id: 3 }, seq: 8 },
    { op: 22, d: { transition_id: 3 }, seq: 9 },
    { op: 23, d: { transition_id: 3 } },
    { op: 24, d: { protocol_version: 1, epoch: 1 }, seq: 10 },
    { op: 31, d: { transition_id: 4 } },
  ];

  it.each(samples.map((m) => [m.op, m] as const))('op %i round-trips', (_op, msg) => {
    const text = encodeVoiceMessage(msg);
    expect(JSON.parse(text)).toEqual(msg);
    expect(parseVoiceMessage(text)).toEqual(msg);
  });

  it('returns unknown opcodes as they are', () => {
    expect(parseVoiceMessage('{"op":18,"d":{"any":"thing"},"seq":12}')).toEqual({ op: 18, d: { any: 'thing' }, seq: 12 });
    expect(parseVoiceMessage('{"op":999}')).toEqual({ op: 999, d: undefined });
  });

  it('drops a null seq and ignores unknown envelope fields', () => {
    const m = parseVoiceMessage('{"op":8,"d":{"heartbeat_interval":1},"seq":null,"t":null,"s":1}');
    expect(m).toEqual({ op: 8, d: { heartbeat_interval: 1 } });
    expect('seq' in m).toBe(false);
  });

  it('keeps seq 0', () => {
    expect(parseVoiceMessage('{"op":9,"d":null,"seq":0}').seq).toBe(0);
  });

  it('does not read op from the prototype chain', () => {
    expectProtocolError(() => parseVoiceMessage('{"__proto__":{"op":1}}'), 'GATEWAY_BAD_PAYLOAD');
  });

  it.each([
    ['empty', ''],
    ['not JSON', '{op:1}'],
    ['truncated', '{"op":1,"d":'],
    ['null', 'null'],
    ['array', '[{"op":1}]'],
    ['number', '1'],
    ['string', '"op"'],
    ['no op', '{"d":{}}'],
    ['string op', '{"op":"1"}'],
    ['float op', '{"op":1.5}'],
    ['null op', '{"op":null}'],
    ['overflowing op', '{"op":1e999}'],
    ['string seq', '{"op":1,"seq":"2"}'],
    ['float seq', '{"op":1,"seq":2.5}'],
    ['object seq', '{"op":1,"seq":{}}'],
  ])('rejects %s with GATEWAY_BAD_PAYLOAD', (_name, text) => {
    expectProtocolError(() => parseVoiceMessage(text), 'GATEWAY_BAD_PAYLOAD');
  });

  it('round-trips arbitrary envelopes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.jsonValue(), fc.option(fc.nat(), { nil: undefined }), (op, d, seq) => {
        const msg: VoiceMessage = seq === undefined ? { op, d } : { op, d, seq };
        const parsed = parseVoiceMessage(encodeVoiceMessage(msg));
        expect(parsed.op).toBe(op);
        expect(parsed.seq).toBe(seq);
        expect(parsed.d).toEqual(JSON.parse(JSON.stringify(d)));
      }),
      { numRuns: 500 },
    );
  });
});

describe('server → client binary frames', () => {
  it('encodes [u16 BE seq][u8 op][payload]', () => {
    const f = encodeServerBinaryFrame(0x0102, 25, Buffer.from([0xaa, 0xbb]));
    expect(f.toString('hex')).toBe('010219aabb');
  });

  it('round-trips', () => {
    const payload = Buffer.from('mls external sender');
    const parsed = parseServerBinaryFrame(encodeServerBinaryFrame(513, 29, payload));
    expect(parsed.seq).toBe(513);
    expect(parsed.op).toBe(29);
    expect(parsed.payload).toEqual(payload);
  });

  it('wraps seq to 16 bits and op to 8 bits', () => {
    const parsed = parseServerBinaryFrame(encodeServerBinaryFrame(65536 + 3, 256 + 30, Buffer.alloc(0)));
    expect(parsed).toEqual({ seq: 3, op: 30, payload: Buffer.alloc(0) });
  });

  it('accepts a 3-byte frame with an empty payload and rejects shorter ones', () => {
    expect(parseServerBinaryFrame(Buffer.from([0, 1, 27])).payload.length).toBe(0);
    for (let n = 0; n < 3; n++) expectProtocolError(() => parseServerBinaryFrame(new Uint8Array(n)), 'GATEWAY_BAD_BINARY_FRAME');
  });

  it('returns the payload as a view, and honours byteOffset', () => {
    const outer = Buffer.from([0xff, 0xff, 0x00, 0x07, 30, 1, 2, 3]);
    const view = new Uint8Array(outer.buffer, outer.byteOffset + 2, 6);
    const parsed = parseServerBinaryFrame(view);
    expect(parsed.seq).toBe(7);
    expect(parsed.op).toBe(30);
    expect([...parsed.payload]).toEqual([1, 2, 3]);
    expect(parsed.payload.buffer).toBe(outer.buffer);
  });

  it('round-trips arbitrary frames (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300, size: 'medium' }), (seq, op, payload) => {
        const f = encodeServerBinaryFrame(seq, op, payload);
        expect(f.length).toBe(3 + payload.length);
        const p = parseServerBinaryFrame(f);
        expect(p.seq).toBe(seq);
        expect(p.op).toBe(op);
        expect(Buffer.compare(p.payload, Buffer.from(payload))).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});

describe('client → server binary frames', () => {
  it('encodes [u8 op][payload]', () => {
    expect(encodeClientBinaryFrame(26, Buffer.from([1, 2, 3])).toString('hex')).toBe('1a010203');
  });

  it('round-trips, with no seq', () => {
    const parsed = parseClientBinaryFrame(encodeClientBinaryFrame(28, Buffer.from('commit+welcome')));
    expect(parsed).toEqual({ op: 28, payload: Buffer.from('commit+welcome') });
    expect('seq' in parsed).toBe(false);
  });

  it('accepts a lone opcode byte and rejects an empty frame', () => {
    expect(parseClientBinaryFrame(Buffer.from([26]))).toEqual({ op: 26, payload: Buffer.alloc(0) });
    expectProtocolError(() => parseClientBinaryFrame(new Uint8Array(0)), 'GATEWAY_BAD_BINARY_FRAME');
  });

  it('honours byteOffset', () => {
    const outer = Buffer.from([0xee, 26, 9, 8]);
    const parsed = parseClientBinaryFrame(outer.subarray(1));
    expect(parsed.op).toBe(26);
    expect([...parsed.payload]).toEqual([9, 8]);
  });

  it('round-trips arbitrary frames (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 300, size: 'medium' }), (op, payload) => {
        const p = parseClientBinaryFrame(encodeClientBinaryFrame(op, payload));
        expect(p.op).toBe(op);
        expect(Buffer.compare(p.payload, Buffer.from(payload))).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
