import { performance } from 'node:perf_hooks';
import { OpusEncoder } from '@discordjs/opus';
import { sequenceDelta, timestampDelta, type RtpHeader } from '../../protocol/rtp';
import type { PacingStats, ReceivedStream } from '../VoiceServer';
import { isDaveProtocolFrame } from './dave/protocolFrame';

const SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);
const FRAME_MS = 20;
const SAMPLES_PER_MS = 48;
/** A gap this long after a silence frame starts a new talk spurt (not a pacing sample). */
const SPURT_GAP_MS = 100;
const MAX_PACING_SAMPLES = 1_000_000;
const DUP_WINDOW = 1024;

/** Per-SSRC receive statistics of the emulator (internal). */
export class StreamRecorder {
  private frames = 0;
  private silenceFrames = 0;
  private e2eeFrames = 0;
  decryptFailures = 0;
  private decodeFailures = 0;
  private duplicates = 0;
  private reordered = 0;
  private timestampSteps = 0;
  private firstExt = -1;
  private highestExt = -1;
  private highestTimestamp = 0;
  private unique = 0;
  private readonly seen = new Map<number, true>();
  private lastArrival = -1;
  private firstArrival = -1;
  private lastWasSilence = false;
  private deviations = new Float64Array(1024);
  private deviationCount = 0;
  private jitter = 0;
  private readonly pcm: Buffer[] = [];
  private readonly payloads: Buffer[] = [];
  private keptFrames = 0;
  private decoder: OpusEncoder | null;

  constructor(
    readonly ssrc: number,
    readonly userId: string,
    readonly channelId: string,
    readonly mode: string,
    decode: boolean,
    private readonly maxKeptFrames: number,
  ) {
    this.decoder = decode ? new OpusEncoder(48000, 2) : null;
  }

  /** Records one decrypted packet. */
  record(header: RtpHeader, payload: Buffer, arrival = performance.now()): void {
    const seq = header.sequence;
    let ext: number;
    if (this.highestExt < 0) {
      ext = seq;
      this.firstExt = ext;
      this.firstArrival = arrival;
    } else {
      ext = this.highestExt + sequenceDelta(seq, this.highestExt & 0xffff);
    }
    if (this.seen.has(ext)) {
      this.duplicates++;
      return;
    }
    this.seen.set(ext, true);
    if (this.seen.size > DUP_WINDOW) {
      const oldest = this.seen.keys().next().value as number;
      this.seen.delete(oldest);
    }
    this.unique++;
    this.frames++;
    if (ext < this.firstExt) this.firstExt = ext;
    const isSilence = payload.length === 3 && payload.equals(SILENCE);
    if (isSilence) this.silenceFrames++;

    if (this.highestExt >= 0 && ext < this.highestExt) {
      this.reordered++;
    } else {
      if (this.highestExt >= 0) {
        const k = ext - this.highestExt;
        const tsStep = timestampDelta(header.timestamp, this.highestTimestamp);
        if (tsStep !== 960 * k) this.timestampSteps++;
        const dt = arrival - this.lastArrival;
        const newSpurt = this.lastWasSilence && dt > SPURT_GAP_MS;
        if (!newSpurt) {
          const expected = tsStep > 0 && tsStep <= 960 * k * 4 ? tsStep / SAMPLES_PER_MS : FRAME_MS * k;
          this.addDeviation(Math.abs(dt - expected));
          const d = Math.abs(dt * SAMPLES_PER_MS - tsStep);
          this.jitter += (d - this.jitter) / 16;
        }
      }
      this.highestExt = ext;
      this.highestTimestamp = header.timestamp;
      this.lastArrival = arrival;
      this.lastWasSilence = isSilence;
    }

    const e2ee = !isSilence && isDaveProtocolFrame(payload);
    if (e2ee) this.e2eeFrames++;
    if (isSilence || this.keptFrames >= this.maxKeptFrames) return;
    this.keptFrames++;
    this.payloads.push(Buffer.from(payload));
    if (this.decoder && !e2ee) {
      try {
        this.pcm.push(this.decoder.decode(payload));
      } catch {
        this.decodeFailures++;
      }
    }
  }

  private addDeviation(v: number): void {
    if (this.deviationCount >= MAX_PACING_SAMPLES) return;
    if (this.deviationCount === this.deviations.length) {
      const next = new Float64Array(this.deviations.length * 2);
      next.set(this.deviations);
      this.deviations = next;
    }
    this.deviations[this.deviationCount++] = v;
  }

  private pacing(): PacingStats {
    const n = this.deviationCount;
    if (n === 0) return { p50: 0, p99: 0, max: 0, count: 0 };
    const sorted = this.deviations.slice(0, n).sort();
    const at = (q: number): number => sorted[Math.min(n - 1, Math.floor(q * (n - 1) + 0.5))];
    return { p50: at(0.5), p99: at(0.99), max: sorted[n - 1], count: n };
  }

  snapshot(): ReceivedStream {
    const span = this.highestExt < 0 ? 0 : this.highestExt - this.firstExt + 1;
    return {
      ssrc: this.ssrc,
      userId: this.userId,
      channelId: this.channelId,
      mode: this.mode,
      frames: this.frames,
      silenceFrames: this.silenceFrames,
      e2eeFrames: this.e2eeFrames,
      decryptFailures: this.decryptFailures,
      decodeFailures: this.decodeFailures,
      lost: Math.max(0, span - this.unique),
      duplicates: this.duplicates,
      reordered: this.reordered,
      timestampSteps: this.timestampSteps,
      pacing: this.pacing(),
      jitterMs: this.jitter / SAMPLES_PER_MS,
      firstSequence: this.firstExt < 0 ? -1 : this.firstExt & 0xffff,
      lastSequence: this.highestExt < 0 ? -1 : this.highestExt & 0xffff,
      firstArrival: this.firstArrival,
      lastArrival: this.lastArrival,
      pcm: Buffer.concat(this.pcm),
      payloads: this.payloads.slice(),
      durationMs: (this.frames - this.silenceFrames) * FRAME_MS,
    };
  }
}
