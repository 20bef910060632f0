import * as dgram from 'node:dgram';
import { firstValueFrom } from 'rxjs';
import { openVoiceUdpSocket } from '../../src/gateway/VoiceUdpSocket';
import { encodeIpDiscovery, IP_DISCOVERY_RESPONSE, isIpDiscovery } from '../../src/protocol/ipDiscovery';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A UDP "voice server": answers IP discovery, records every other datagram. */
async function fakeServer() {
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    if (isIpDiscovery(msg)) {
      socket.send(encodeIpDiscovery({ type: IP_DISCOVERY_RESPONSE, ssrc: msg.readUInt32BE(4), address: rinfo.address, port: rinfo.port }), rinfo.port, rinfo.address);
    } else {
      received.push(Buffer.from(msg));
    }
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  return { socket, received, address: { address: '127.0.0.1', port: socket.address().port } };
}

describe('VoiceUdpSocket', () => {
  test('after discovery, sends go out synchronously on the connected socket; the buffer may be reused at once', async () => {
    const server = await fakeServer();
    const udp = openVoiceUdpSocket();
    try {
      expect(udp.send(Buffer.from('before discovery'))).toBe(true); // no destination yet: dropped
      await firstValueFrom(udp.discover(42, server.address));
      await sleep(20); // connect() completes on the next tick
      const buf = Buffer.alloc(100);
      for (let i = 0; i < 20; i++) {
        buf.fill(i);
        expect(udp.send(buf)).toBe(true);
      }
      udp.keepAlive();
      await sleep(100);
      expect(server.received.slice(0, 20).map((b) => b[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
      for (const b of server.received.slice(0, 20)) expect(b.every((x) => x === b[0])).toBe(true);
      expect(server.received[20]?.length).toBe(8); // keep-alive
    } finally {
      udp.close();
      server.socket.close();
    }
  });

  test('ICMP port unreachable on the connected socket is not fatal', async () => {
    const server = await fakeServer();
    const udp = openVoiceUdpSocket();
    let completed = false;
    udp.messages$.subscribe({ complete: () => (completed = true) });
    try {
      await firstValueFrom(udp.discover(7, server.address));
      await sleep(20);
      server.socket.close(); // the port is now closed: the kernel answers with ICMP
      for (let i = 0; i < 5; i++) {
        udp.send(Buffer.alloc(10));
        await sleep(10);
      }
      expect(completed).toBe(false);
      // Discovery towards another server still works on the same socket.
      const other = await fakeServer();
      try {
        const addr = await firstValueFrom(udp.discover(8, other.address, { retryMs: 50 }));
        expect(addr.address).toBe('127.0.0.1');
        await sleep(20);
        expect(udp.send(Buffer.from('x'))).toBe(true);
        await sleep(50);
        expect(other.received.map((b) => b.toString())).toContain('x');
      } finally {
        other.socket.close();
      }
    } finally {
      udp.close();
    }
  });
});
