/**
 * Shared by the examples: an embedded voice-server emulator and a bot connected to it, so
 * every example runs offline. Against Discord you would use `joinVoiceChannel({ guildId,
 * channelId, selfDeaf: false, adapterCreator: guild.voiceAdapterCreator })` instead.
 */
import { connectVoice, type VoiceConnection } from '../../src';
import { startVoiceServer, type VoiceServer } from '../../src/testing';

export interface LocalChannel {
  server: VoiceServer;
  conn: VoiceConnection;
  close(): Promise<void>;
}

export async function localChannel(userId = 'example-bot'): Promise<LocalChannel> {
  const server = await startVoiceServer();
  server.registerSession({ serverId: 'guild', userId, sessionId: `${userId}-session`, token: 'token' });
  const conn = connectVoice({
    endpoint: server.endpoint,
    tls: { ca: server.certificate },
    serverId: 'guild',
    userId,
    sessionId: `${userId}-session`,
    token: 'token',
    channelId: 'channel',
    dave: false,
  });
  await conn.ready();
  return {
    server,
    conn,
    close: async () => {
      conn.destroy();
      await server.close();
    },
  };
}
