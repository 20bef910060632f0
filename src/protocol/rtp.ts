import { ProtocolError } from '../errors';

/**
 * RTP fixed header and the parts rxvoice reads and writes (RFC 3550 §5.1, RFC 8285 for
 * the header extension). Discord sends Opus as payload type 120 at a 48 kHz clock
 * (Discord docs, "Voice Connections" → "Encrypting and Sending Voice").
 */
export interface RtpHeader {
  /** Always 2 on the wire. */
  readonly version: 2;
  /** P bit: the (decrypted) payload ends with padding whose last byte is its length. */
  readonly padding: boolean;
  /** M bit. */
  readonly marker: boolean;
  /** 7-bit payload type; Discord Opus = 120 (0x78). */
  readonly payloadType: number;
  /** 16-bit sequence number, wraps at 65536. */
  readonly sequence: number;
  /** 32-bit timestamp in 48 kHz samples (+960 per 20 ms Opus frame), wraps at 2^32. */
  readonly timestamp: number;
  /** 32-bit synchronisation source. */
  readonly ssrc: number;
  /** Contributing sources (0–15 entries). */
  readonly csrcs: readonly number[];
  /**
   * Header extension (X bit) as it sits on the wire: the 16-bit profile (Discord clients
   * send `0xBEDE`) and the body length in 32-bit words. With the `*_rtpsize` modes the
   * body is encrypted, so only its length is known from the header.
   */
  readonly extension: { readonly profile: number; readonly length: number } | null;
}

/** Input for {@link writeRtpHeader}; omitted fields take Discord's defaults. */
export interface RtpHeaderInit {
  sequence: number;
  timestamp: number;
  ssrc: number;
  payloadType?: number;
  marker?: boolean;
  padding?: boolean;
  csrcs?: readonly number[];
  extension?: { profile: number; length: number } | null;
}

/** Length of the RTP fixed header, bytes. */
export const RTP_HEADER_SIZE = 12;
/** Payload type Discord uses for Opus. */
export const OPUS_PAYLOAD_TYPE = 120;

/**
 * Byte length of the header part that `*_rtpsize` modes leave unencrypted and use as
 * AAD: 12 + 4 × CSRC count + 4 if the X bit is set.
 * @throws {ProtocolError} `RTP_TOO_SHORT` when `packet` is shorter than that.
 */
export function rtpHeaderSize(packet: Uint8Array): number {
  if (packet.length < RTP_HEADER_SIZE) {
    throw new ProtocolError('RTP_TOO_SHORT', `RTP packet of ${packet.length} bytes is shorter than the 12-byte header`);
  }
  const b0 = packet[0];
  const size = RTP_HEADER_SIZE + 4 * (b0 & 0x0f) + (b0 & 0x10 ? 4 : 0);
  if (packet.length < size) {
    throw new ProtocolError('RTP_TOO_SHORT', `RTP packet of ${packet.length} bytes is shorter than its ${size}-byte header`);
  }
  return size;
}

/**
 * Parses the RTP header at the start of `packet` (fixed header, CSRCs and the 4-byte
 * extension header — not the extension body, which `*_rtpsize` modes encrypt).
 * @returns the header and `size`, the bytes it occupies (see {@link rtpHeaderSize}).
 * @throws {ProtocolError} `RTP_TOO_SHORT` or `RTP_BAD_VERSION`.
 */
export function parseRtpHeader(packet: Uint8Array): { header: RtpHeader; size: number } {
  const size = rtpHeaderSize(packet);
  const b0 = packet[0];
  const version = b0 >> 6;
  if (version !== 2) {
    throw new ProtocolError('RTP_BAD_VERSION', `RTP version ${version}, expected 2`);
  }
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const cc = b0 & 0x0f;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(view.getUint32(RTP_HEADER_SIZE + 4 * i));
  let extension: RtpHeader['extension'] = null;
  if (b0 & 0x10) {
    const at = RTP_HEADER_SIZE + 4 * cc;
    extension = { profile: view.getUint16(at), length: view.getUint16(at + 2) };
  }
  const header: RtpHeader = {
    version: 2,
    padding: (b0 & 0x20) !== 0,
    marker: (packet[1] & 0x80) !== 0,
    payloadType: packet[1] & 0x7f,
    sequence: view.getUint16(2),
    timestamp: view.getUint32(4),
    ssrc: view.getUint32(8),
    csrcs,
    extension,
  };
  return { header, size };
}

/** Bytes {@link writeRtpHeader} writes for `init`. */
export function rtpHeaderSizeOf(init: Pick<RtpHeaderInit, 'csrcs' | 'extension'>): number {
  return RTP_HEADER_SIZE + 4 * (init.csrcs?.length ?? 0) + (init.extension ? 4 : 0);
}

/**
 * Writes an RTP header into `target` at `offset` (no allocation).
 * @returns the number of bytes written.
 * @throws {ProtocolError} `RTP_BAD_FIELD` for out-of-range fields, `RTP_TOO_SHORT` if `target` is too small.
 */
export function writeRtpHeader(target: Uint8Array, init: RtpHeaderInit, offset = 0): number {
  const csrcs = init.csrcs ?? [];
  const size = rtpHeaderSizeOf(init);
  if (csrcs.length > 15) throw new ProtocolError('RTP_BAD_FIELD', `at most 15 CSRCs, got ${csrcs.length}`);
  const pt = init.payloadType ?? OPUS_PAYLOAD_TYPE;
  if (!(pt >= 0 && pt <= 127)) throw new ProtocolError('RTP_BAD_FIELD', `payload type ${pt} is not 0-127`);
  if (target.length - offset < size) {
    throw new ProtocolError('RTP_TOO_SHORT', `target has ${target.length - offset} bytes, header needs ${size}`);
  }
  const view = new DataView(target.buffer, target.byteOffset + offset, size);
  view.setUint8(0, 0x80 | (init.padding ? 0x20 : 0) | (init.extension ? 0x10 : 0) | csrcs.length);
  view.setUint8(1, (init.marker ? 0x80 : 0) | pt);
  view.setUint16(2, init.sequence & 0xffff);
  view.setUint32(4, init.timestamp >>> 0);
  view.setUint32(8, init.ssrc >>> 0);
  for (let i = 0; i < csrcs.length; i++) view.setUint32(RTP_HEADER_SIZE + 4 * i, csrcs[i] >>> 0);
  if (init.extension) {
    const at = RTP_HEADER_SIZE + 4 * csrcs.length;
    view.setUint16(at, init.extension.profile & 0xffff);
    view.setUint16(at + 2, init.extension.length & 0xffff);
  }
  return size;
}

/** Allocates and returns an RTP header for `init`. */
export function encodeRtpHeader(init: RtpHeaderInit): Buffer {
  const out = Buffer.allocUnsafe(rtpHeaderSizeOf(init));
  writeRtpHeader(out, init);
  return out;
}

/**
 * Given the decrypted part of an `*_rtpsize` packet (extension body ‖ payload ‖ padding),
 * returns the media payload: strips 4 × `extension.length` bytes of extension body and,
 * when the P bit is set, the RTP padding (last byte = padding length, RFC 3550 §5.1).
 * Returns a view into `decrypted` (no copy).
 * @throws {ProtocolError} `RTP_TOO_SHORT` or `RTP_BAD_PADDING`.
 */
export function stripRtpExtras(header: RtpHeader, decrypted: Uint8Array): Uint8Array {
  let start = 0;
  let end = decrypted.length;
  if (header.extension) {
    start = 4 * header.extension.length;
    if (start > end) {
      throw new ProtocolError('RTP_TOO_SHORT', `extension body of ${start} bytes exceeds the ${end}-byte payload`);
    }
  }
  if (header.padding) {
    if (end === start) throw new ProtocolError('RTP_BAD_PADDING', 'P bit set on an empty payload');
    const pad = decrypted[end - 1];
    if (pad === 0 || pad > end - start) {
      throw new ProtocolError('RTP_BAD_PADDING', `padding length ${pad} does not fit the ${end - start}-byte payload`);
    }
    end -= pad;
  }
  return decrypted.subarray(start, end);
}

/** `a - b` on 16-bit sequence numbers, in [-32768, 32767] (handles wrap-around). */
export function sequenceDelta(a: number, b: number): number {
  return ((((a - b) & 0xffff) + 0x8000) & 0xffff) - 0x8000;
}

/** `a - b` on 32-bit RTP timestamps, signed (handles wrap-around). */
export function timestampDelta(a: number, b: number): number {
  return ((a - b) | 0);
}
