/**
 * Conformance of the voice-server emulator with a real client: @discordjs/voice@0.19.2, which
 * works against Discord. It runs in a child process (test/conformance/djsClient.js, plain node,
 * wss:// with the emulator's self-signed certificate accepted) with a hand-written gateway
 * adapter. Each encryption mode is forced by offering only that mode in READY; in XChaCha mode
 * the child loads test/conformance/blockSodium.mjs so that @discordjs/voice uses
 * @noble/ciphers instead of sodium-native@5 (which crashes it).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Subscription } from 'rxjs';
import {
  alignedSnr,
  dominantFrequency,
  durationMs,
  generateTone,
  rms,
  startVoiceServer,
  type VoiceServer,
  type VoiceServerEvent,
} from '../../src/testing';
import { describeRun, lineOf, startDjsClient, type DjsRunResult } from './djsChild';

jest.setTimeout(20_000);

const TONE_MS = 1000;
const FRAME_MS = 20;

interface ModeCase {
  mode: 'aead_aes256_gcm_rtpsize' | 'aead_xchacha20_poly1305_rtpsize';
  short: string;
  /** Run the child with blockSodium.mjs (XChaCha must fall back to @noble/ciphers). */
  blockSodium: boolean;
}

const CASES: ModeCase[] = [
  { mode: 'aead_aes256_gcm_rtpsize', short: 'aes', blockSodium: false },
  { mode: 'aead_xchacha20_poly1305_rtpsize', short: 'xchacha', blockSodium: true },
];

/** Fails with the child's whole output when it did not exit 0. */
function expectClean(run: DjsRunResult): void {
  if (run.code !== 0) throw new Error(`@discordjs/voice child failed\n${describeRun(run)}`);
}

interface CryptoReport {
  hook: boolean;
  blocked?: string[];
  resolved?: string[];
  sodiumNativeRequired: boolean;
}

function cryptoOf(run: DjsRunResult): CryptoReport {
  return lineOf(run, 'done').crypto as CryptoReport;
}

describe.each(CASES)('@discordjs/voice 0.19.2 against the emulator, $mode', ({ mode, short, blockSodium }) => {
  let server: VoiceServer;
  let events: VoiceServerEvent[];
  let sub: Subscription;
  let dir: string;
  let n = 0;

  const session = (role: string) => {
    n++;
    const creds = { serverId: `guild-${short}`, userId: `djs-${short}-${role}-${n}`, sessionId: `sess-${short}-${n}`, token: `tok-${short}-${n}` };
    server.registerSession(creds);
    return creds;
  };

  beforeAll(async () => {
    // A short heartbeat interval so that every run includes heartbeats (and their seq_ack).
    server = await startVoiceServer({ modes: [mode], heartbeatIntervalMs: 500 });
    events = [];
    sub = server.events$.subscribe((e) => events.push(e));
    dir = await mkdtemp(path.join(tmpdir(), `rxvoice-djs-${short}-`));
  });

  afterAll(async () => {
    sub.unsubscribe();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test(`plays a ${TONE_MS} ms 440 Hz tone; the emulator receives and decodes it`, async () => {
    const c = session('player');
    const child = startDjsClient(
      {
        endpoint: server.endpoint,
        guildId: c.serverId,
        channelId: 'channel-1',
        userId: c.userId,
        sessionId: c.sessionId,
        token: c.token,
        action: 'play',
        frequency: 440,
        durationMs: TONE_MS,
        timeoutMs: 15_000,
      },
      { blockSodium },
    );
    const run = await child.exited;
    expectClean(run);

    expect(lineOf(run, 'ready').mode).toBe(mode);
    const crypto = cryptoOf(run);
    if (blockSodium) {
      // Every library before @noble/ciphers was tried and refused; noble loaded; sodium-native never did.
      expect(crypto.blocked).toEqual(['sodium-native', 'sodium', 'libsodium-wrappers', '@stablelib/xchacha20poly1305']);
      expect(crypto.resolved).toEqual(['@noble/ciphers/chacha.js']);
      expect(crypto.sodiumNativeRequired).toBe(false);
      // The child waited for @discordjs/voice's asynchronous library load before joining.
      expect(lineOf(run, 'xchacha-loaded').waitedMs).toEqual(expect.any(Number));
    }

    const stream = server.receivedFrom(c.userId);
    if (!stream) throw new Error(`emulator received nothing from ${c.userId}\n${describeRun(run)}`);
    const { pcm, payloads, ...stats } = stream;
    const info = `${JSON.stringify(stats)}\n${describeRun(run)}`;
    expect({ mode: stream.mode, decryptFailures: stream.decryptFailures, decodeFailures: stream.decodeFailures }).toEqual({
      mode,
      decryptFailures: 0,
      decodeFailures: 0,
    });
    // Duration of the non-silence frames: the tone, ±2 %.
    expect(stream.durationMs).toBeGreaterThanOrEqual(TONE_MS * 0.98);
    expect(stream.durationMs).toBeLessThanOrEqual(TONE_MS * 1.02);
    expect(payloads.length).toBe(stream.durationMs / FRAME_MS);
    expect(durationMs(pcm)).toBeCloseTo(stream.durationMs, 6);
    // @discordjs/voice ends a resource with trailing Opus silence frames (4 observed, of 5 queued).
    expect(stream.silenceFrames).toBeGreaterThanOrEqual(1);
    expect(stream.silenceFrames).toBeLessThanOrEqual(5);
    expect(stream.frames).toBe(stream.durationMs / FRAME_MS + stream.silenceFrames);
    expect({ lost: stream.lost, duplicates: stream.duplicates, reordered: stream.reordered, timestampSteps: stream.timestampSteps }).toEqual({
      lost: 0,
      duplicates: 0,
      reordered: 0,
      timestampSteps: 0,
    });
    const f = dominantFrequency(pcm);
    if (Math.abs(f - 440) > 2) throw new Error(`dominant frequency ${f} Hz, expected 440 ± 2\n${info}`);
    expect(rms(pcm)).toBeGreaterThan(0.2); // a 0.5-amplitude sine is ≈ 0.354
    // The waveform itself, not only its peak: ≈ 41 dB observed (Opus at its default bitrate).
    const snr = alignedSnr(pcm, generateTone({ frequency: 440, durationMs: TONE_MS }));
    if (!(snr.snrDb > 20)) throw new Error(`SNR ${JSON.stringify(snr)} against the sent tone\n${info}`);

    // Gateway: it identified with DAVE support, heartbeated with the last server seq, sent
    // SPEAKING on and off, and left with a normal close. Its 8-byte keep-alives were not bad RTP.
    const mine = events.filter((e) => 'userId' in e && e.userId === c.userId);
    expect(mine.find((e) => e.type === 'identify')).toMatchObject({ daveVersion: 1 });
    const heartbeats = mine.filter((e): e is Extract<VoiceServerEvent, { type: 'heartbeat' }> => e.type === 'heartbeat');
    expect(heartbeats.length).toBeGreaterThanOrEqual(1);
    // READY is seq 1 and SESSION_DESCRIPTION seq 2: seq_ack must have picked them up.
    for (const h of heartbeats) expect(h.seqAck).toBe(2);
    expect(mine.filter((e) => e.type === 'speaking').map((e) => (e.type === 'speaking' ? e.flags : -1))).toEqual([1, 0]);
    expect(mine.find((e) => e.type === 'close')).toMatchObject({ code: 1000, byServer: false });
    expect(server.udpStats().badPackets).toBe(0);
  });

  test('receives a 660 Hz tone the emulator speaks (speakAs)', async () => {
    const c = session('listener');
    const speaker = `emu-speaker-${short}`;
    const outFile = path.join(dir, 'heard.pcm');
    const child = startDjsClient(
      {
        endpoint: server.endpoint,
        guildId: c.serverId,
        channelId: 'channel-1',
        userId: c.userId,
        sessionId: c.sessionId,
        token: c.token,
        action: 'listen',
        listenUserId: speaker,
        listenMs: 8000,
        idleMs: 600,
        outFile,
        timeoutMs: 15_000,
      },
      { blockSodium },
    );
    try {
      await child.waitFor('listening');
      await server.speakAs({ userId: speaker, ssrc: 0x5eed0000 + n, source: { tone: { frequency: 660, durationMs: TONE_MS } } });
    } catch (err) {
      child.kill();
      throw err;
    }
    const run = await child.exited;
    expectClean(run);
    expect(lineOf(run, 'ready').mode).toBe(mode);
    if (blockSodium) expect(cryptoOf(run).resolved).toEqual(['@noble/ciphers/chacha.js']);

    const heard = lineOf(run, 'heard');
    const info = describeRun(run);
    const packets = heard.packets as number;
    const silence = heard.silenceFrames as number;
    expect(heard.reason).toBe('idle');
    expect(heard.decodeFailures).toBe(0);
    // The emulator sends 50 tone frames and 5 silence frames. @discordjs/voice maps the SSRC only
    // once op 5 SPEAKING arrived; the emulator sends it before the first packet.
    expect(silence).toBe(5);
    const toneMs = (packets - silence) * FRAME_MS;
    if (toneMs < TONE_MS * 0.98 || toneMs > TONE_MS * 1.02) throw new Error(`heard ${toneMs} ms of tone\n${info}`);

    const pcm = await readFile(outFile);
    expect(durationMs(pcm)).toBe(packets * FRAME_MS);
    const f = dominantFrequency(pcm);
    if (Math.abs(f - 660) > 2) throw new Error(`dominant frequency ${f} Hz, expected 660 ± 2\n${info}`);
    expect(rms(pcm)).toBeGreaterThan(0.2);
    // ≈ 25 dB observed; an unrelated signal scores ≈ 0 dB or lower.
    const snr = alignedSnr(pcm, generateTone({ frequency: 660, durationMs: TONE_MS }));
    if (!(snr.snrDb > 15)) throw new Error(`SNR ${JSON.stringify(snr)} against the spoken tone\n${info}`);
  });
});
