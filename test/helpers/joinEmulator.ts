import { lastValueFrom, toArray, type Observable } from 'rxjs';
import { connectVoice, voiceSink, type PlaybackProgress, type VoiceConnection, type VoiceSinkOptions } from '../../src';
import type { EncryptionMode } from '../../src/protocol/transportCrypto';
import type { ReceivedStream, VoiceServer } from '../../src/testing';

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

/**
 * Plays `opus$` through a `voiceSink` on a fresh connection to the emulator; resolves with
 * every progress the sink emitted and what the emulator received from that user.
 */
export async function playIntoEmulator(
  server: VoiceServer,
  prefix: string,
  opus$: Observable<Buffer>,
  options: VoiceSinkOptions = {},
): Promise<{ progress: PlaybackProgress[]; received: ReceivedStream; userId: string }> {
  const { conn, userId } = await joinEmulator(server, prefix);
  const progress = await lastValueFrom(opus$.pipe(voiceSink(conn, options), toArray()));
  await new Promise((r) => setTimeout(r, 100)); // the last datagrams reach the emulator
  conn.destroy();
  return { progress, received: server.receivedFrom(userId)!, userId };
}
