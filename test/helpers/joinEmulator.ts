import { connectVoice, type VoiceConnection } from '../../src';
import type { EncryptionMode } from '../../src/protocol/transportCrypto';
import type { VoiceServer } from '../../src/testing';

let n = 0;

/** A ready connection to the emulator as a fresh user (`<prefix>-<n>`), DAVE off. */
export async function joinEmulator(
  server: VoiceServer,
  prefix: string,
  options: { mode?: EncryptionMode } = {},
): Promise<{ conn: VoiceConnection; userId: string }> {
  n++;
  const c = { serverId: 'g', userId: `${prefix}-${n}`, sessionId: `s-${prefix}-${n}`, token: `t-${prefix}-${n}` };
  server.registerSession(c);
  const conn = connectVoice({ endpoint: server.wsUrl, ...c, channelId: 'c', dave: false, modes: options.mode ? [options.mode] : undefined });
  await conn.ready(5000);
  return { conn, userId: c.userId };
}
