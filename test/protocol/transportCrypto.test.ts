import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as sodium from 'sodium-native';
import { ProtocolError, type ProtocolErrorCode } from '../../src/errors';
import { encodeRtpHeader, type RtpHeaderInit } from '../../src/protocol/rtp';
import {
  AEAD_TAG_SIZE,
  NONCE_SUFFIX_SIZE,
  SECRET_KEY_SIZE,
  SUPPORTED_ENCRYPTION_MODES,
  createTransportCipher,
  hasAes256Gcm,
  isEncryptionMode,
  type EncryptionMode,
  type TransportCipher,
} from '../../src/protocol/transportCrypto';

const MODES: readonly EncryptionMode[] = ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'];
const KEY = Buffer.from('8f1c3a5e7d2b4c6e9a0b1d3f5e7c9a2b4d6f8e0a1c3e5b7d9f2a4c6e8b0d1f3a', 'hex');
const OPUS = Buffer.from('fc7f8a9b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f', 'hex');

const PARSE_CODES: readonly ProtocolErrorCode[] = ['RTP_TOO_SHORT', 'RTP_BAD_VERSION', 'CRYPTO_PACKET_TOO_SHORT'];

/** Calls `fn`, which must throw a ProtocolError; returns its code. Any other exception or a return fails. */
function protocolErrorCode(fn: () => unknown): ProtocolErrorCode {
  let thrown: unknown;
  let returned = false;
  try {
    fn();
    returned = true;
  } catch (e) {
    thrown = e;
  }
  if (returned) throw new Error('expected a ProtocolError, but the call returned');
  if (!(thrown instanceof ProtocolError)) throw new Error(`expected a ProtocolError, got ${String(thrown)}`);
  return thrown.code;
}

function hdr(init: Partial<RtpHeaderInit> = {}): Buffer {
  return encodeRtpHeader({ sequence: 0x1234, timestamp: 0x56789abc, ssrc: 0x0badf00d, ...init });
}

/** Independent rtpsize decryption with the raw primitives: the clear part is 12 + 4·CC (+4 if X). */
function rawOpen(mode: EncryptionMode, key: Uint8Array, packet: Buffer, nonceOf: (counter: Buffer) => Buffer): Buffer {
  const hl = 12 + 4 * (packet[0] & 0x0f) + (packet[0] & 0x10 ? 4 : 0);
  const aad = packet.subarray(0, hl);
  const counter = packet.subarray(packet.length - 4);
  const sealed = packet.subarray(hl, packet.length - 4);
  const nonce = nonceOf(counter);
  if (mode === 'aead_aes256_gcm_rtpsize') {
    const d = crypto.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: 16 });
    d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
  }
  const m = Buffer.alloc(sealed.length - 16);
  sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(m, null, sealed, aad, nonce, key);
  return m;
}

/** Discord's nonce: the 4 counter bytes followed by zeros (12 bytes AES-GCM, 24 bytes XChaCha). */
function discordNonce(mode: EncryptionMode): (counter: Buffer) => Buffer {
  const size = mode === 'aead_aes256_gcm_rtpsize' ? 12 : 24;
  return (counter) => Buffer.concat([counter, Buffer.alloc(size - 4)]);
}

describe('mode and key checks', () => {
  it('lists both modes, XChaCha20-Poly1305 first (the cheaper seal, see bench/cpu-per-packet.md)', () => {
    expect(SUPPORTED_ENCRYPTION_MODES).toEqual(['aead_xchacha20_poly1305_rtpsize', 'aead_aes256_gcm_rtpsize']);
    for (const m of MODES) expect(isEncryptionMode(m)).toBe(true);
    for (const m of ['xsalsa20_poly1305', 'aead_xchacha20_poly1305', '', 'AEAD_AES256_GCM_RTPSIZE']) expect(isEncryptionMode(m)).toBe(false);
    expect(hasAes256Gcm()).toBe(true);
    expect([AEAD_TAG_SIZE, NONCE_SUFFIX_SIZE, SECRET_KEY_SIZE]).toEqual([16, 4, 32]);
  });

  it('rejects unknown modes with CRYPTO_UNKNOWN_MODE', () => {
    for (const m of ['xsalsa20_poly1305', 'xsalsa20_poly1305_lite', 'xsalsa20_poly1305_suffix', 'aead_aes256_gcm', '']) {
      expect(protocolErrorCode(() => createTransportCipher(m, KEY))).toBe('CRYPTO_UNKNOWN_MODE');
    }
  });

  it('rejects keys that are not 32 bytes with CRYPTO_BAD_KEY', () => {
    for (const mode of MODES) {
      for (const n of [0, 16, 31, 33, 64]) {
        expect(protocolErrorCode(() => createTransportCipher(mode, new Uint8Array(n)))).toBe('CRYPTO_BAD_KEY');
      }
      expect(createTransportCipher(mode, KEY).mode).toBe(mode);
    }
  });
});

describe.each(MODES)('%s', (mode) => {
  const nonceSize = mode === 'aead_aes256_gcm_rtpsize' ? 12 : 24;
  let cipher: TransportCipher;
  beforeEach(() => {
    cipher = createTransportCipher(mode, KEY);
  });

  describe('seal/open round trips', () => {
    it('plain 12-byte header', () => {
      const header = hdr();
      const packet = cipher.seal(header, OPUS, 7);
      expect(packet.length).toBe(12 + OPUS.length + 16 + 4);
      expect(packet.subarray(0, 12)).toEqual(header);
      expect(packet.subarray(12, 12 + OPUS.length)).not.toEqual(OPUS);
      const opened = cipher.open(packet);
      expect(opened.payload).toEqual(OPUS);
      expect(opened.nonce).toBe(7);
      expect(opened.header).toMatchObject({ sequence: 0x1234, timestamp: 0x56789abc, ssrc: 0x0badf00d, payloadType: 120, csrcs: [], extension: null });
    });

    it('with CSRCs: they stay clear and in the AAD', () => {
      for (const cc of [1, 2, 15]) {
        const csrcs = Array.from({ length: cc }, (_, i) => 0x01010101 * (i + 1));
        const header = hdr({ csrcs, marker: true });
        const packet = cipher.seal(header, OPUS, cc);
        expect(packet.subarray(0, header.length)).toEqual(header);
        const opened = cipher.open(packet);
        expect(opened.header.csrcs).toEqual(csrcs);
        expect(opened.header.marker).toBe(true);
        expect(opened.payload).toEqual(OPUS);
        // AAD is the whole clear part: raw decryption with that AAD and Discord's nonce works
        expect(rawOpen(mode, KEY, packet, discordNonce(mode))).toEqual(OPUS);
      }
    });

    it('with an X extension: 4-byte extension header clear, body encrypted and stripped', () => {
      for (const length of [0, 1, 2, 5]) {
        const header = hdr({ extension: { profile: 0xbede, length } });
        const body = Buffer.alloc(4 * length);
        for (let i = 0; i < body.length; i++) body[i] = 0x10 + i;
        const plain = Buffer.concat([body, OPUS]);
        const packet = cipher.seal(header, plain, 100 + length);
        // clear part = 12 + 4, extension header readable as-is
        expect(packet.subarray(0, 16)).toEqual(header);
        expect(packet.readUInt16BE(12)).toBe(0xbede);
        expect(packet.readUInt16BE(14)).toBe(length);
        // the encrypted part starts with the extension body
        const raw = rawOpen(mode, KEY, packet, discordNonce(mode));
        expect(raw).toEqual(plain);
        expect(raw.subarray(0, body.length)).toEqual(body);
        if (length > 0) expect(packet.subarray(16, 16 + body.length)).not.toEqual(body);
        const opened = cipher.open(packet);
        expect(opened.header.extension).toEqual({ profile: 0xbede, length });
        expect(opened.payload).toEqual(OPUS);
      }
    });

    it('with P padding: stripped after decryption', () => {
      for (const pad of [1, 3, 16, 255]) {
        const padding = Buffer.alloc(pad);
        padding[pad - 1] = pad;
        const packet = cipher.seal(hdr({ padding: true }), Buffer.concat([OPUS, padding]), pad);
        const opened = cipher.open(packet);
        expect(opened.header.padding).toBe(true);
        expect(opened.payload).toEqual(OPUS);
      }
    });

    it('with CSRCs, extension and padding together', () => {
      const header = hdr({ csrcs: [0xaaaaaaaa, 0xbbbbbbbb], extension: { profile: 0xbede, length: 2 }, padding: true, marker: true });
      expect(header.length).toBe(12 + 8 + 4);
      const plain = Buffer.concat([Buffer.from('\x10\x01\x22\x33\x00\x00\x00\x00', 'latin1'), OPUS, Buffer.from([0, 0, 0, 4])]);
      const packet = cipher.seal(header, plain, 0xfffffffe);
      expect(packet.subarray(0, 24)).toEqual(header);
      const opened = cipher.open(packet);
      expect(opened.payload).toEqual(OPUS);
      expect(opened.nonce).toBe(0xfffffffe);
      expect(opened.header).toMatchObject({ csrcs: [0xaaaaaaaa, 0xbbbbbbbb], extension: { profile: 0xbede, length: 2 }, padding: true, marker: true });
    });

    it('seals into a reused output buffer when it is large enough, else allocates', () => {
      const out = Buffer.alloc(256, 0xee);
      const a = cipher.seal(hdr(), OPUS, 41, out);
      expect(a.buffer).toBe(out.buffer);
      expect(a.byteOffset).toBe(out.byteOffset);
      expect(a.length).toBe(12 + OPUS.length + 20);
      expect(a).toEqual(cipher.seal(hdr(), OPUS, 41)); // same bytes as a fresh packet (same nonce)
      expect(cipher.open(a).payload).toEqual(OPUS);
      const b = cipher.seal(hdr(), OPUS, 42, out); // overwrites the same memory
      expect(cipher.open(b).nonce).toBe(42);
      const tooSmall = Buffer.alloc(8);
      const c = cipher.seal(hdr(), OPUS, 43, tooSmall);
      expect(c.buffer).not.toBe(tooSmall.buffer);
      expect(cipher.open(c).payload).toEqual(OPUS);
    });

    it('empty and maximum-size payloads', () => {
      const empty = cipher.seal(hdr(), Buffer.alloc(0), 1);
      expect(empty.length).toBe(12 + 16 + 4);
      expect(cipher.open(empty).payload.length).toBe(0);
      const big = crypto.randomBytes(1275 + 64);
      expect(cipher.open(cipher.seal(hdr(), big, 2)).payload).toEqual(big);
    });

    it('accepts plain Uint8Arrays and views with a byteOffset', () => {
      const header = new Uint8Array(hdr());
      const payload = new Uint8Array(OPUS);
      const packet = cipher.seal(header, payload, 3);
      const outer = new Uint8Array(packet.length + 10);
      outer.set(packet, 5);
      const view = outer.subarray(5, 5 + packet.length);
      expect(cipher.open(view).payload).toEqual(OPUS);
    });

    it('does not mutate its inputs and returns a payload the caller owns', () => {
      const header = hdr({ extension: { profile: 0xbede, length: 1 } });
      const plain = Buffer.concat([Buffer.from('EXTB'), OPUS]);
      const headerCopy = Buffer.from(header);
      const plainCopy = Buffer.from(plain);
      const packet = cipher.seal(header, plain, 9);
      expect(header).toEqual(headerCopy);
      expect(plain).toEqual(plainCopy);
      const packetCopy = Buffer.from(packet);
      const opened = cipher.open(packet);
      expect(packet).toEqual(packetCopy);
      // the payload does not alias the packet: writing to it leaves the packet intact
      opened.payload.fill(0);
      expect(packet).toEqual(packetCopy);
      expect(cipher.open(packet).payload).toEqual(OPUS);
    });

    it('keeps a private copy of the key', () => {
      const key = Buffer.from(KEY);
      const c = createTransportCipher(mode, key);
      key.fill(0);
      expect(c.open(cipher.seal(hdr(), OPUS, 1)).payload).toEqual(OPUS);
      expect(cipher.open(c.seal(hdr(), OPUS, 2)).payload).toEqual(OPUS);
    });

    it('seals and opens many packets in any order with one cipher', () => {
      const packets: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        const counter = (0xffffffe0 + i) >>> 0; // crosses the 2^32 wrap
        packets.push(cipher.seal(hdr({ sequence: 65520 + i, timestamp: 960 * i }), Buffer.from([i, i, i]), counter));
      }
      packets.reverse().forEach((p, j) => {
        const i = 49 - j;
        const opened = cipher.open(p);
        expect(opened.nonce).toBe((0xffffffe0 + i) >>> 0);
        expect(opened.header.sequence).toBe((65520 + i) & 0xffff);
        expect([...opened.payload]).toEqual([i, i, i]);
      });
    });
  });

  describe('nonce', () => {
    it('appends the counter big-endian in the last 4 bytes', () => {
      const p = cipher.seal(hdr(), OPUS, 0x01020304);
      expect(p.subarray(p.length - 4).toString('hex')).toBe('01020304');
      expect(cipher.open(p).nonce).toBe(0x01020304);
    });

    it.each([
      [0, '00000000', 0],
      [0xffffffff, 'ffffffff', 0xffffffff],
      [2 ** 32, '00000000', 0],
      [2 ** 32 + 5, '00000005', 5],
      [-1, 'ffffffff', 0xffffffff],
    ])('wraps counter %d to %s', (counter, hex, back) => {
      const p = cipher.seal(hdr(), OPUS, counter);
      expect(p.subarray(p.length - 4).toString('hex')).toBe(hex);
      expect(cipher.open(p).nonce).toBe(back);
    });

    it(`is the 4 counter bytes followed by ${nonceSize - 4} zero bytes`, () => {
      const packet = cipher.seal(hdr(), OPUS, 0xa1b2c3d4);
      expect(rawOpen(mode, KEY, packet, (c) => Buffer.concat([c, Buffer.alloc(nonceSize - 4)]))).toEqual(OPUS);
      // counter at the end, or little-endian, is not what we use
      expect(() => rawOpen(mode, KEY, packet, (c) => Buffer.concat([Buffer.alloc(nonceSize - 4), c]))).toThrow();
      expect(() => rawOpen(mode, KEY, packet, (c) => Buffer.concat([Buffer.from(c).reverse(), Buffer.alloc(nonceSize - 4)]))).toThrow();
    });

    it('changes the ciphertext and tag per counter', () => {
      const a = cipher.seal(hdr(), OPUS, 1);
      const b = cipher.seal(hdr(), OPUS, 2);
      expect(a.subarray(12, a.length - 4)).not.toEqual(b.subarray(12, b.length - 4));
    });
  });

  describe('authentication', () => {
    const header = hdr({ csrcs: [0x11111111], extension: { profile: 0xbede, length: 1 }, padding: true });
    const plain = Buffer.concat([Buffer.from('EXT!'), Buffer.from([0xf8, 0xff, 0xfe]), Buffer.from([0, 2])]);

    it('round-trips the packet used below', () => {
      expect(cipher.open(cipher.seal(header, plain, 77)).payload).toEqual(Buffer.from([0xf8, 0xff, 0xfe]));
    });

    it('rejects every single-bit flip of header, ciphertext, tag and nonce', () => {
      const packet = cipher.seal(header, plain, 77);
      const hl = header.length;
      let checked = 0;
      for (let i = 0; i < packet.length; i++) {
        for (let bit = 0; bit < 8; bit++) {
          const t = Buffer.from(packet);
          t[i] ^= 1 << bit;
          const code = protocolErrorCode(() => cipher.open(t));
          if (i === 0) {
            // byte 0 holds V, P, X and CC: the header may no longer parse
            expect([...PARSE_CODES, 'CRYPTO_AUTH_FAILED']).toContain(code);
          } else {
            // header bytes 1..hl (AAD), ciphertext, tag, nonce counter
            expect(code).toBe('CRYPTO_AUTH_FAILED');
          }
          checked++;
        }
      }
      expect(checked).toBe(8 * (hl + plain.length + 16 + 4));
    });

    it('rejects every truncation and an appended byte', () => {
      const packet = cipher.seal(header, plain, 77);
      for (let n = 0; n < packet.length; n++) {
        const code = protocolErrorCode(() => cipher.open(packet.subarray(0, n)));
        expect([...PARSE_CODES, 'CRYPTO_AUTH_FAILED']).toContain(code);
        if (n < header.length) expect(code).toBe('RTP_TOO_SHORT');
        else if (n < header.length + 20) expect(code).toBe('CRYPTO_PACKET_TOO_SHORT');
        else expect(code).toBe('CRYPTO_AUTH_FAILED');
      }
      expect(protocolErrorCode(() => cipher.open(Buffer.concat([packet, Buffer.from([0])])))).toBe('CRYPTO_AUTH_FAILED');
    });

    it('rejects a replaced nonce counter', () => {
      const packet = cipher.seal(header, plain, 77);
      packet.writeUInt32BE(78, packet.length - 4);
      expect(protocolErrorCode(() => cipher.open(packet))).toBe('CRYPTO_AUTH_FAILED');
    });

    it('rejects a wrong key and the other mode', () => {
      const packet = cipher.seal(header, plain, 77);
      const wrong = Buffer.from(KEY);
      wrong[31] ^= 0x01;
      expect(protocolErrorCode(() => createTransportCipher(mode, wrong).open(packet))).toBe('CRYPTO_AUTH_FAILED');
      expect(protocolErrorCode(() => createTransportCipher(mode, Buffer.alloc(32)).open(packet))).toBe('CRYPTO_AUTH_FAILED');
      const other = MODES.find((m) => m !== mode) as EncryptionMode;
      expect(protocolErrorCode(() => createTransportCipher(other, KEY).open(packet))).toBe('CRYPTO_AUTH_FAILED');
    });

    it('keeps CRYPTO_AUTH_FAILED errors free of other exception types and with a cause', () => {
      const packet = cipher.seal(hdr(), OPUS, 1);
      packet[20] ^= 0xff;
      let err: unknown;
      try {
        cipher.open(packet);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe('CRYPTO_AUTH_FAILED');
      expect((err as ProtocolError).name).toBe('ProtocolError');
      expect((err as ProtocolError).cause).toBeDefined();
    });

    it('reports RTP_BAD_PADDING / RTP_TOO_SHORT for authentic but malformed contents', () => {
      // P bit with a zero padding length
      expect(protocolErrorCode(() => cipher.open(cipher.seal(hdr({ padding: true }), Buffer.from([1, 2, 0]), 1)))).toBe('RTP_BAD_PADDING');
      // P bit with padding longer than the payload
      expect(protocolErrorCode(() => cipher.open(cipher.seal(hdr({ padding: true }), Buffer.from([1, 2, 9]), 1)))).toBe('RTP_BAD_PADDING');
      // P bit, empty payload
      expect(protocolErrorCode(() => cipher.open(cipher.seal(hdr({ padding: true }), Buffer.alloc(0), 1)))).toBe('RTP_BAD_PADDING');
      // extension body longer than the decrypted part
      const h = hdr({ extension: { profile: 0xbede, length: 3 } });
      expect(protocolErrorCode(() => cipher.open(cipher.seal(h, Buffer.alloc(11), 1)))).toBe('RTP_TOO_SHORT');
    });

    it('reports RTP_BAD_VERSION for a non-v2 header', () => {
      const packet = cipher.seal(hdr(), OPUS, 1);
      packet[0] = (packet[0] & 0x3f) | 0x40;
      expect(protocolErrorCode(() => cipher.open(packet))).toBe('RTP_BAD_VERSION');
    });
  });
});

// ---- published vectors for the primitives --------------------------------------------------

/** The GCM specification (McGrew & Viega), test case 16: AES-256, 60-byte plaintext, 20-byte AAD. */
const GCM_TC16 = {
  key: 'feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308',
  iv: 'cafebabefacedbaddecaf888',
  aad: 'feedfacedeadbeeffeedfacedeadbeefabaddad2',
  plaintext:
    'd9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72' +
    '1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39',
  ciphertext:
    '522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa' +
    '8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662',
  tag: '76fc6ece0f4e1768cddf8853bb2d551b',
};

/** draft-irtf-cfrg-xchacha-03, appendix A.3.1 (AEAD_XChaCha20_Poly1305). */
const XCHACHA_A31 = {
  key: '808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f',
  nonce: '404142434445464748494a4b4c4d4e4f5051525354555657',
  aad: '50515253c0c1c2c3c4c5c6c7',
  plaintext: Buffer.from(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  ).toString('hex'),
  ciphertext:
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb' +
    '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
    '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
    '21f9664c97637da9768812f615c68b13b52e',
  tag: 'c0875924c1c7987947deafd8780acf49',
};

const unhex = (h: string): Buffer => Buffer.from(h, 'hex');

describe('published vectors (primitives)', () => {
  it('AES-256-GCM, GCM spec test case 16, via node:crypto', () => {
    const v = GCM_TC16;
    const c = crypto.createCipheriv('aes-256-gcm', unhex(v.key), unhex(v.iv), { authTagLength: 16 });
    c.setAAD(unhex(v.aad));
    const ct = Buffer.concat([c.update(unhex(v.plaintext)), c.final()]);
    expect(ct.toString('hex')).toBe(v.ciphertext);
    expect(c.getAuthTag().toString('hex')).toBe(v.tag);
    const d = crypto.createDecipheriv('aes-256-gcm', unhex(v.key), unhex(v.iv), { authTagLength: 16 });
    d.setAAD(unhex(v.aad));
    d.setAuthTag(unhex(v.tag));
    expect(Buffer.concat([d.update(unhex(v.ciphertext)), d.final()]).toString('hex')).toBe(v.plaintext);
  });

  it('XChaCha20-Poly1305, draft-irtf-cfrg-xchacha A.3.1, via sodium-native', () => {
    const v = XCHACHA_A31;
    const m = unhex(v.plaintext);
    const c = Buffer.alloc(m.length + 16);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(c, m, unhex(v.aad), null, unhex(v.nonce), unhex(v.key));
    expect(c.toString('hex')).toBe(v.ciphertext + v.tag);
    const back = Buffer.alloc(m.length);
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(back, null, c, unhex(v.aad), unhex(v.nonce), unhex(v.key));
    expect(back).toEqual(m);
  });
});

// ---- known answers against an independent implementation: @noble/ciphers ---------------------

/**
 * @noble/ciphers 2.x is ESM-only, so it runs in a child `node --input-type=module` process.
 * The child implements the rtpsize layout on its own: seal = header ‖ AEAD(payload, aad=header,
 * nonce=BE counter ‖ zeros) ‖ BE counter; open derives the clear length from byte 0.
 */
const NOBLE_SCRIPT = String.raw`
import { gcm } from '@noble/ciphers/aes.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
let text = '';
for await (const chunk of process.stdin) text += chunk;
const input = JSON.parse(text);
const unhex = (h) => new Uint8Array(Buffer.from(h, 'hex'));
const hex = (u) => Buffer.from(u).toString('hex');
function aead(mode, key, counter, aad) {
  const nonce = new Uint8Array(mode === 'aead_aes256_gcm_rtpsize' ? 12 : 24);
  new DataView(nonce.buffer).setUint32(0, counter, false);
  if (mode === 'aead_aes256_gcm_rtpsize') return gcm(key, nonce, aad);
  if (mode === 'aead_xchacha20_poly1305_rtpsize') return xchacha20poly1305(key, nonce, aad);
  throw new Error('mode ' + mode);
}
const sealed = input.seal.map((c) => {
  const header = unhex(c.header);
  const ct = aead(c.mode, unhex(c.key), c.nonce, header).encrypt(unhex(c.payload));
  const out = new Uint8Array(header.length + ct.length + 4);
  out.set(header, 0);
  out.set(ct, header.length);
  new DataView(out.buffer).setUint32(out.length - 4, c.nonce, false);
  return hex(out);
});
const opened = input.open.map((c) => {
  const p = unhex(c.packet);
  const hl = 12 + 4 * (p[0] & 0x0f) + (p[0] & 0x10 ? 4 : 0);
  const end = p.length - 4;
  const counter = new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(end, false);
  try {
    return hex(aead(c.mode, unhex(c.key), counter, p.subarray(0, hl)).decrypt(p.subarray(hl, end)));
  } catch {
    return null;
  }
});
const v = input.vectors;
const vectors = {
  gcm: hex(gcm(unhex(v.gcm.key), unhex(v.gcm.iv), unhex(v.gcm.aad)).encrypt(unhex(v.gcm.plaintext))),
  xchacha: hex(xchacha20poly1305(unhex(v.xchacha.key), unhex(v.xchacha.nonce), unhex(v.xchacha.aad)).encrypt(unhex(v.xchacha.plaintext))),
};
process.stdout.write(JSON.stringify({ sealed, opened, vectors }));
`;

interface KatCase {
  name: string;
  header: Buffer;
  /** Plaintext to seal: extension body ‖ Opus ‖ padding. */
  plain: Buffer;
  /** What `open` must return after stripping. */
  payload: Buffer;
  nonce: number;
}

const KAT_KEY = unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const KAT_CASES: KatCase[] = [
  {
    name: 'plain header, counter 0',
    header: encodeRtpHeader({ sequence: 1, timestamp: 960, ssrc: 0x12345678 }),
    plain: Buffer.from('f8fffe', 'hex'),
    payload: Buffer.from('f8fffe', 'hex'),
    nonce: 0,
  },
  {
    name: 'marker + 2 CSRCs, counter 0xfffffffe',
    header: encodeRtpHeader({ sequence: 65535, timestamp: 0xfffffc40, ssrc: 1, marker: true, csrcs: [0xdeadbeef, 0x01020304] }),
    plain: OPUS,
    payload: OPUS,
    nonce: 0xfffffffe,
  },
  {
    name: '0xBEDE extension (1 word), counter 7',
    header: encodeRtpHeader({ sequence: 4242, timestamp: 4242 * 960, ssrc: 0xcafe, extension: { profile: 0xbede, length: 1 } }),
    plain: Buffer.concat([unhex('10aa0000'), OPUS]),
    payload: OPUS,
    nonce: 7,
  },
  {
    name: 'CSRC + extension (2 words) + padding, counter 0x01020304',
    header: encodeRtpHeader({
      sequence: 9,
      timestamp: 8640,
      ssrc: 0xffffffff,
      padding: true,
      csrcs: [42],
      extension: { profile: 0xbede, length: 2 },
    }),
    plain: Buffer.concat([unhex('1001223300000000'), OPUS, unhex('00000004')]),
    payload: OPUS,
    nonce: 0x01020304,
  },
];

interface NobleResult {
  sealed: string[];
  opened: Array<string | null>;
  vectors: { gcm: string; xchacha: string };
}

describe('known answers vs @noble/ciphers (independent implementation, child process)', () => {
  const combos = MODES.flatMap((mode) => KAT_CASES.map((c) => ({ mode, c })));
  let ours: Buffer[];
  let noble: NobleResult;

  beforeAll(() => {
    ours = combos.map(({ mode, c }) => createTransportCipher(mode, KAT_KEY).seal(c.header, c.plain, c.nonce));
    const tampered = Buffer.from(ours[0]);
    tampered[tampered.length - 10] ^= 1;
    const input = {
      seal: combos.map(({ mode, c }) => ({ mode, key: KAT_KEY.toString('hex'), header: c.header.toString('hex'), payload: c.plain.toString('hex'), nonce: c.nonce })),
      open: [
        ...combos.map(({ mode }, i) => ({ mode, key: KAT_KEY.toString('hex'), packet: ours[i].toString('hex') })),
        { mode: combos[0].mode, key: KAT_KEY.toString('hex'), packet: tampered.toString('hex') },
      ],
      vectors: { gcm: GCM_TC16, xchacha: XCHACHA_A31 },
    };
    const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', NOBLE_SCRIPT], {
      cwd: path.resolve(__dirname, '..', '..'),
      input: JSON.stringify(input),
      encoding: 'utf8',
      timeout: 20_000,
    });
    noble = JSON.parse(stdout) as NobleResult;
  });

  it('noble reproduces the published vectors', () => {
    expect(noble.vectors.gcm).toBe(GCM_TC16.ciphertext + GCM_TC16.tag);
    expect(noble.vectors.xchacha).toBe(XCHACHA_A31.ciphertext + XCHACHA_A31.tag);
  });

  it('got one answer per case', () => {
    expect(noble.sealed).toHaveLength(combos.length);
    expect(noble.opened).toHaveLength(combos.length + 1);
  });

  it.each(MODES.flatMap((mode) => KAT_CASES.map((c, j) => [mode, c.name, MODES.indexOf(mode) * KAT_CASES.length + j] as const)))(
    '%s, %s: our seal is byte-identical to noble, each side opens the other',
    (mode, _name, i) => {
      const { c } = combos[i];
      expect(ours[i].length).toBe(c.header.length + c.plain.length + 16 + 4);
      expect(ours[i].toString('hex')).toBe(noble.sealed[i]);
      const opened = createTransportCipher(mode, KAT_KEY).open(unhex(noble.sealed[i]));
      expect(opened.payload).toEqual(c.payload);
      expect(opened.nonce).toBe(c.nonce);
      expect(noble.opened[i]).toBe(c.plain.toString('hex'));
    },
  );

  it('noble rejects a tampered packet of ours', () => {
    expect(noble.opened[combos.length]).toBeNull();
  });
});
