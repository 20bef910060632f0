/** Magic marker that ends every DAVE protocol frame. */
const MAGIC = 0xfafa;
/** 8-byte truncated AES-GCM tag + ≥1-byte ULEB128 nonce + 1-byte size + 2-byte marker. */
const MIN_SUPPLEMENTAL = 8 + 1 + 2;
const TAG_BYTES = 8;

/** Reads a ULEB128 value at `at` (≤ 10 bytes); null if it runs past `end`. */
function readLeb128(b: Uint8Array, at: number, end: number): { value: number; next: number } | null {
  let value = 0;
  let shift = 0;
  for (let i = at; i < end && i < at + 10; i++) {
    const byte = b[i];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  return null;
}

/**
 * The DAVE "Protocol Frame Check" (daveprotocol.com): `frame` ends with the 0xFAFA magic
 * marker, a plausible supplemental data size, a ULEB128 nonce and well-formed ULEB128
 * unencrypted ranges (ascending, not overlapping, inside the media part). An SFU uses it to
 * tell E2EE frames from plain media (plain Opus passes it only by rare accident).
 */
export function isDaveProtocolFrame(frame: Uint8Array): boolean {
  const n = frame.length;
  if (n < MIN_SUPPLEMENTAL) return false;
  if (((frame[n - 2] << 8) | frame[n - 1]) !== MAGIC) return false;
  const size = frame[n - 3];
  if (size < MIN_SUPPLEMENTAL || size > n) return false;
  const start = n - size + TAG_BYTES;
  const end = n - 3;
  const nonce = readLeb128(frame, start, end);
  if (!nonce || nonce.value > 0xffffffff) return false;
  const mediaSize = n - size;
  let at = nonce.next;
  let lastEnd = 0;
  while (at < end) {
    const offset = readLeb128(frame, at, end);
    if (!offset) return false;
    const length = readLeb128(frame, offset.next, end);
    if (!length) return false;
    if (offset.value < lastEnd || offset.value + length.value > mediaSize) return false;
    lastEnd = offset.value + length.value;
    at = length.next;
  }
  return true;
}
