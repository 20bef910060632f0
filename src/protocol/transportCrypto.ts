import * as crypto from 'node:crypto';
import * as sodium from 'sodium-native';
import { ProtocolError } from '../errors';
import { parseRtpHeader, rtpHeaderSize, stripRtpExtras, type RtpHeader } from './rtp';

/**
 * Transport encryption modes Discord accepts today (Discord docs, "Voice Connections" →
 * "Transport Encryption Modes"; the xsalsa20 modes were removed in November 2024).
 */
export type EncryptionMode = 'aead_aes256_gcm_rtpsize' | 'aead_xchacha20_poly1305_rtpsize';

/**
 * Both supported modes, in rxvoice's order of preference: the client picks the first one the
 * voice server offers (Discord offers both). XChaCha20-Poly1305 first: sodium-native seals a
 * packet in one call into the output buffer (≈ 1.5 µs for a 160-byte Opus frame here, open
 * ≈ 1.9 µs), while node:crypto has no one-shot AEAD and builds a cipher object per packet for
 * AES-256-GCM (3.5–7 µs, plus the garbage; open 4.8–6.5 µs). See bench/cpu-per-packet.md.
 * AES-256-GCM stays supported (pass `modes` to prefer it).
 */
export const SUPPORTED_ENCRYPTION_MODES: readonly EncryptionMode[] = [
  'aead_xchacha20_poly1305_rtpsize',
  'aead_aes256_gcm_rtpsize',
];

/** Whether `mode` is one rxvoice can speak. */
export function isEncryptionMode(mode: string): mode is EncryptionMode {
  return (SUPPORTED_ENCRYPTION_MODES as readonly string[]).includes(mode);
}

/** Whether this Node build has AES-256-GCM in node:crypto. */
export function hasAes256Gcm(): boolean {
  return crypto.getCiphers().includes('aes-256-gcm');
}

/** AEAD tag length, bytes (both modes). */
export const AEAD_TAG_SIZE = 16;
/** The nonce counter appended to every packet, bytes (big-endian u32). */
export const NONCE_SUFFIX_SIZE = 4;
/** Secret key length from SESSION_DESCRIPTION, bytes. */
export const SECRET_KEY_SIZE = 32;

/** Result of {@link TransportCipher.open}. */
export interface OpenedPacket {
  /** The RTP header as parsed from the unencrypted part. */
  header: RtpHeader;
  /**
   * The media payload (Opus, or a DAVE frame) with the encrypted extension body and RTP
   * padding stripped. A view into a fresh buffer owned by the caller.
   */
  payload: Buffer;
  /** The 32-bit nonce counter the sender appended. */
  nonce: number;
}

/**
 * Seals and opens RTP packets for one `*_rtpsize` mode and secret key.
 *
 * Packet layout (Discord docs, "Transport Encryption Modes"): `header ‖ ciphertext ‖
 * 16-byte tag ‖ u32 BE nonce counter`, where `header` is the unencrypted RTP header
 * (12 bytes + 4 × CSRC count + 4-byte extension header if X) and also the AAD. The
 * AEAD nonce is the counter followed by zeros: 12 bytes for AES-256-GCM, 24 for XChaCha20.
 */
export interface TransportCipher {
  readonly mode: EncryptionMode;
  /**
   * Encrypts `payload` (extension body, if any, ‖ Opus frame) under `header` as AAD.
   * Returns the packet (`header.length + payload.length + 20` bytes): a new buffer, or, when
   * `out` is given and large enough, a view of `out` from its start (nothing else allocated
   * with XChaCha20; node:crypto's AES-GCM still makes its cipher object and tag per call).
   * @param nonce 32-bit counter, incremented by the caller per packet (wraps at 2^32).
   * @param out reusable output buffer; the caller must not reuse it while a returned packet
   *   is still in use (e.g. queued by the UDP socket).
   */
  seal(header: Uint8Array, payload: Uint8Array, nonce: number, out?: Buffer): Buffer;
  /**
   * Authenticates and decrypts a packet.
   * @throws {ProtocolError} `RTP_TOO_SHORT`, `RTP_BAD_VERSION`, `CRYPTO_PACKET_TOO_SHORT`,
   *   `CRYPTO_AUTH_FAILED` (wrong key, tampered or truncated packet) or `RTP_BAD_PADDING`.
   */
  open(packet: Uint8Array): OpenedPacket;
}

/**
 * Creates the cipher for `mode` and the 32-byte `secretKey` from SESSION_DESCRIPTION.
 * @throws {ProtocolError} `CRYPTO_UNKNOWN_MODE` or `CRYPTO_BAD_KEY`.
 */
export function createTransportCipher(mode: string, secretKey: Uint8Array): TransportCipher {
  if (!isEncryptionMode(mode)) {
    throw new ProtocolError(
      'CRYPTO_UNKNOWN_MODE',
      `unsupported encryption mode "${mode}"; rxvoice supports ${SUPPORTED_ENCRYPTION_MODES.join(', ')}`,
    );
  }
  if (secretKey.length !== SECRET_KEY_SIZE) {
    throw new ProtocolError('CRYPTO_BAD_KEY', `secret key must be ${SECRET_KEY_SIZE} bytes, got ${secretKey.length}`);
  }
  const key = Buffer.from(secretKey); // private copy
  return mode === 'aead_aes256_gcm_rtpsize' ? new AesGcmCipher(key) : new XChaChaCipher(key);
}

abstract class BaseCipher implements TransportCipher {
  abstract readonly mode: EncryptionMode;
  protected readonly nonceBuf: Buffer;

  /** JS-private, so the key never shows up in JSON, logs or `util.inspect`. */
  readonly #key: Buffer;

  constructor(key: Buffer, nonceSize: number) {
    this.#key = key;
    this.nonceBuf = Buffer.alloc(nonceSize);
  }

  protected get key(): Buffer {
    return this.#key;
  }

  seal(header: Uint8Array, payload: Uint8Array, nonce: number, out?: Buffer): Buffer {
    const hl = header.length;
    const size = hl + payload.length + AEAD_TAG_SIZE + NONCE_SUFFIX_SIZE;
    const packet = out !== undefined && out.length >= size ? out.subarray(0, size) : Buffer.allocUnsafe(size);
    packet.set(header, 0);
    const n = nonce >>> 0;
    const nb = this.nonceBuf;
    nb[0] = n >>> 24;
    nb[1] = n >>> 16;
    nb[2] = n >>> 8;
    nb[3] = n;
    this.sealInto(packet, hl, header, payload);
    packet[size - 4] = n >>> 24;
    packet[size - 3] = n >>> 16;
    packet[size - 2] = n >>> 8;
    packet[size - 1] = n;
    return packet;
  }

  open(packet: Uint8Array): OpenedPacket {
    const hl = rtpHeaderSize(packet);
    if (packet.length < hl + AEAD_TAG_SIZE + NONCE_SUFFIX_SIZE) {
      throw new ProtocolError(
        'CRYPTO_PACKET_TOO_SHORT',
        `packet of ${packet.length} bytes cannot hold a ${hl}-byte header, a 16-byte tag and a 4-byte nonce`,
      );
    }
    const { header } = parseRtpHeader(packet);
    const buf = Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength);
    const nonceAt = buf.length - NONCE_SUFFIX_SIZE;
    const nonce = buf.readUInt32BE(nonceAt);
    this.nonceBuf.writeUInt32BE(nonce, 0);
    const plain = this.openFrom(buf.subarray(0, hl), buf.subarray(hl, nonceAt));
    const payload = stripRtpExtras(header, plain) as Buffer;
    return { header, payload, nonce };
  }

  /** Writes ciphertext ‖ tag into `out` at `at`. */
  protected abstract sealInto(out: Buffer, at: number, aad: Uint8Array, plain: Uint8Array): void;
  /** Decrypts `sealed` (ciphertext ‖ tag) into a fresh buffer. */
  protected abstract openFrom(aad: Buffer, sealed: Buffer): Buffer;
}

class AesGcmCipher extends BaseCipher {
  readonly mode = 'aead_aes256_gcm_rtpsize' as const;
  /**
   * The key as a KeyObject, made once: node:crypto then does not import a raw key for every
   * packet. JS-private like the raw key.
   */
  readonly #keyObject: crypto.KeyObject;

  constructor(key: Buffer) {
    super(key, 12);
    this.#keyObject = crypto.createSecretKey(key);
  }

  protected sealInto(out: Buffer, at: number, aad: Uint8Array, plain: Uint8Array): void {
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#keyObject, this.nonceBuf, { authTagLength: AEAD_TAG_SIZE });
    cipher.setAAD(aad);
    const ct = cipher.update(plain);
    out.set(ct, at);
    cipher.final();
    out.set(cipher.getAuthTag(), at + ct.length);
  }

  protected openFrom(aad: Buffer, sealed: Buffer): Buffer {
    const ctEnd = sealed.length - AEAD_TAG_SIZE;
    const decipher = crypto.createDecipheriv('aes-256-gcm', this.#keyObject, this.nonceBuf, { authTagLength: AEAD_TAG_SIZE });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(ctEnd));
    const plain = decipher.update(sealed.subarray(0, ctEnd));
    try {
      decipher.final();
    } catch (cause) {
      throw new ProtocolError('CRYPTO_AUTH_FAILED', 'AES-256-GCM authentication failed', { cause });
    }
    return plain;
  }
}

class XChaChaCipher extends BaseCipher {
  readonly mode = 'aead_xchacha20_poly1305_rtpsize' as const;

  /** The key, read once (the base class's getter is a call per packet). JS-private. */
  readonly #rawKey: Buffer;

  constructor(key: Buffer) {
    super(key, 24);
    this.#rawKey = key;
  }

  protected sealInto(out: Buffer, at: number, aad: Uint8Array, plain: Uint8Array): void {
    const c = out.subarray(at, at + plain.length + AEAD_TAG_SIZE);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(c, plain, aad, null, this.nonceBuf, this.#rawKey);
  }

  protected openFrom(aad: Buffer, sealed: Buffer): Buffer {
    const plain = Buffer.allocUnsafe(sealed.length - AEAD_TAG_SIZE);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(plain, null, sealed, aad, this.nonceBuf, this.key);
    } catch (cause) {
      throw new ProtocolError('CRYPTO_AUTH_FAILED', 'XChaCha20-Poly1305 authentication failed', { cause });
    }
    return plain;
  }
}
