/**
 * Connects through the driver, plays 1 s, destroys the connection, closes the emulator and
 * returns without `process.exit`: the process must end by itself (idle driver threads do
 * not hold it open). Prints `done <ms>` when it has let go of everything.
 */
import { lastValueFrom } from 'rxjs';
import { connectVoice, voiceSink } from '../../src';
import { startVoiceServer } from '../../src/testing';
import { opusTone } from './opusTone';

void (async () => {
  const server = await startVoiceServer();
  const c = { serverId: 'g', userId: 'exit-1', sessionId: 's-exit', token: 't-exit' };
  server.registerSession(c);
  const conn = connectVoice({ endpoint: server.wsUrl, ...c, channelId: 'c', dave: false });
  await conn.ready(10_000);
  await lastValueFrom(opusTone(440, 1000).pipe(voiceSink(conn)));
  conn.destroy();
  await server.close();
  console.log(`done ${Math.round(performance.now())} frames ${server.receivedFrom('exit-1')?.frames ?? 0}`);
})();
