import * as dgram from 'node:dgram';
import { createTransportCipher, encodeIpDiscoveryRequest, parseIpDiscovery, type TransportCipher } from '../../src/protocol';
import type { VoiceServer } from '../../src/testing';
import { RawGatewayClient } from './rawGatewayClient';

let counter = 0;

export interface RawSession {
  gw: RawGatewayClient;
  udp: dgram.Socket;
  ssrc: number;
  cipher: TransportCipher;
  userId: string;
  serverId: string;
  sessionId: string;
  token: string;
  close(): void;
}

/** Registers a session and walks a raw client through the whole handshake (IDENTIFY → UDP → SELECT_PROTOCOL). */
export async function rawHandshake(
  server: VoiceServer,
  opts: { mode?: string; userId?: string; serverId?: string; dave?: number } = {},
): Promise<RawSession> {
  const n = ++counter;
  const creds = {
    serverId: opts.serverId ?? 'guild-1',
    userId: opts.userId ?? `user-${n}`,
    sessionId: `session-${n}-${Date.now()}`,
    token: `token-${n}`,
  };
  server.registerSession(creds);
  const gw = await RawGatewayClient.connect(server.wsUrl);
  gw.send(0, {
    server_id: creds.serverId,
    user_id: creds.userId,
    session_id: creds.sessionId,
    token: creds.token,
    max_dave_protocol_version: opts.dave ?? 0,
  });
  const ready = (await gw.waitFor(2)).d as { ssrc: number; ip: string; port: number; modes: string[] };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const discovery = new Promise<{ address: string; port: number }>((resolve) => {
    udp.once('message', (msg) => resolve(parseIpDiscovery(msg)));
  });
  udp.send(encodeIpDiscoveryRequest(ready.ssrc), ready.port, ready.ip);
  const { address, port } = await discovery;
  const mode = opts.mode ?? ready.modes[0];
  gw.send(1, { protocol: 'udp', data: { address, port, mode } });
  const desc = (await gw.waitFor(4)).d as { mode: string; secret_key: number[] };
  const cipher = createTransportCipher(desc.mode, Uint8Array.from(desc.secret_key));
  return {
    gw,
    udp,
    ssrc: ready.ssrc,
    cipher,
    ...creds,
    close() {
      gw.close();
      udp.close();
    },
  };
}
