import { ProtocolError } from '../errors';

/**
 * UDP IP discovery (Discord docs, "Voice Connections" → "IP Discovery"): a 74-byte
 * datagram `u16 type ‖ u16 length=70 ‖ u32 ssrc ‖ 64-byte NUL-terminated address ‖ u16 port`,
 * all big-endian. Type 0x1 is the request (address and port zero), 0x2 the response
 * carrying the client's external IPv4 address and UDP port as the server sees them.
 */
export const IP_DISCOVERY_SIZE = 74;
/** Request type. */
export const IP_DISCOVERY_REQUEST = 0x1;
/** Response type. */
export const IP_DISCOVERY_RESPONSE = 0x2;

/** A parsed IP discovery datagram. */
export interface IpDiscoveryPacket {
  /** 1 = request, 2 = response. */
  type: typeof IP_DISCOVERY_REQUEST | typeof IP_DISCOVERY_RESPONSE;
  ssrc: number;
  /** IPv4 address text, empty in requests. */
  address: string;
  /** UDP port, 0 in requests. */
  port: number;
}

/**
 * Encodes an IP discovery datagram (74 bytes).
 * @throws {ProtocolError} `IP_DISCOVERY_BAD_PACKET` if the address does not fit in 63 bytes.
 */
export function encodeIpDiscovery(packet: IpDiscoveryPacket): Buffer {
  const out = Buffer.alloc(IP_DISCOVERY_SIZE);
  out.writeUInt16BE(packet.type, 0);
  out.writeUInt16BE(70, 2);
  out.writeUInt32BE(packet.ssrc >>> 0, 4);
  const addr = Buffer.from(packet.address, 'utf8');
  if (addr.length > 63) throw new ProtocolError('IP_DISCOVERY_BAD_PACKET', `address of ${addr.length} bytes is longer than 63`);
  addr.copy(out, 8);
  out.writeUInt16BE(packet.port & 0xffff, 72);
  return out;
}

/** The 74-byte request a client sends for its SSRC. */
export function encodeIpDiscoveryRequest(ssrc: number): Buffer {
  return encodeIpDiscovery({ type: IP_DISCOVERY_REQUEST, ssrc, address: '', port: 0 });
}

/** Whether `datagram` looks like IP discovery (74 bytes, type 1 or 2, length 70). */
export function isIpDiscovery(datagram: Uint8Array): boolean {
  return (
    datagram.length === IP_DISCOVERY_SIZE &&
    datagram[0] === 0 &&
    (datagram[1] === IP_DISCOVERY_REQUEST || datagram[1] === IP_DISCOVERY_RESPONSE) &&
    datagram[2] === 0 &&
    datagram[3] === 70
  );
}

/**
 * Parses an IP discovery datagram.
 * @throws {ProtocolError} `IP_DISCOVERY_BAD_PACKET` for a wrong size, type, length field or address.
 */
export function parseIpDiscovery(datagram: Uint8Array): IpDiscoveryPacket {
  if (!isIpDiscovery(datagram)) {
    throw new ProtocolError(
      'IP_DISCOVERY_BAD_PACKET',
      `not an IP discovery datagram (${datagram.length} bytes, expected 74 with type 1 or 2 and length 70)`,
    );
  }
  const buf = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
  const nul = buf.indexOf(0, 8);
  const address = buf.toString('latin1', 8, nul === -1 || nul > 72 ? 72 : nul);
  if (!/^[0-9A-Za-z.:%-]*$/.test(address)) {
    throw new ProtocolError('IP_DISCOVERY_BAD_PACKET', 'IP discovery address is not an IP address text');
  }
  return {
    type: buf[1] as IpDiscoveryPacket['type'],
    ssrc: buf.readUInt32BE(4),
    address,
    port: buf.readUInt16BE(72),
  };
}
