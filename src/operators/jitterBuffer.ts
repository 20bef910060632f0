import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { FRAME_MS, isOpusSilence, SAMPLES_PER_FRAME } from '../core/audioFormat';
import { OPUS_GAP, type JitterItem } from '../core/JitterItem';
import { schedulerClock, sharedVoiceClock, type VoiceClock } from '../core/VoiceClock';
import type { ReceivedPacket } from '../gateway/VoiceReceiver';
import { RxVoiceError } from '../errors';
import { sequenceDelta } from '../protocol/rtp';

const isUint = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/** Options of {@link jitterBuffer}. */
export interface JitterBufferOptions {
  /** Initial playout delay after the first packet of a talk spurt, ms. Default 60. */
  delayMs?: number;
  /** Upper bound of the adaptive delay, and of what is held, ms. Default 200. */
  maxDelayMs?: number;
  /** Clock to play out on (default: the shared 20 ms clock). Must share `receivedAt`'s time base. */
  clock?: VoiceClock;
  /** Play out on this RxJS scheduler instead (marble tests; `receivedAt` in its time). */
  scheduler?: SchedulerLike;
  /** Called with the counters after every emitted item. */
  onStats?: (stats: JitterBufferStats) => void;
}

/** Counters of a {@link jitterBuffer}. */
export interface JitterBufferStats {
  /** Packets emitted. */
  played: number;
  /** Gaps emitted (lost or too late). */
  gaps: number;
  /** Packets dropped because their slot had already been played. */
  late: number;
  duplicates: number;
  /** Packets dropped because the buffer was full (`maxDelayMs` worth). */
  overflow: number;
  /** Items dropped because they were not packets as the receiver makes them (sequence not a u16, timestamp not a u32, no payload). */
  malformed: number;
  /** Times playout jumped to follow a sequence discontinuity. */
  resyncs: number;
  /** Current target delay, ms. */
  delayMs: number;
  /** RFC 3550 interarrival jitter estimate, ms. */
  jitterMs: number;
}

/**
 * Turns a speaker's packets (as they arrive: late, duplicated, out of order) into a steady
 * stream: exactly one item per 20 ms while a talk spurt plays — the packet for that slot
 * or an explicit gap (`{ gap: true, next? }`, with the following packet when it is
 * already here so `opusDecode` can use its FEC). Reorders by RTP sequence (wrap-around
 * safe), drops duplicates and packets whose slot has passed, and holds at most
 * `maxDelayMs` of audio (older packets are dropped and counted: memory is bounded).
 *
 * Playout of a talk spurt starts `delay` after its first packet, where `delay` adapts to
 * the measured jitter (3 × RFC 3550 jitter, rounded up to whole frames, between `delayMs`
 * and `maxDelayMs`). After the sender's silence frames (or `maxDelayMs` of gaps with
 * nothing buffered) the buffer goes idle and emits nothing until the next spurt.
 *
 * Completes after upstream completes and what it holds has been played; errors when
 * upstream errors.
 *
 * @example
 * ```ts
 * speaker.packets$.pipe(jitterBuffer({ delayMs: 60 }), opusDecode(), wavFileSink('alice.wav'))
 * ```
 */
export function jitterBuffer(options: JitterBufferOptions = {}): OperatorFunction<ReceivedPacket, JitterItem> {
  const minDelay = options.delayMs ?? 60;
  const maxDelay = Math.max(minDelay, options.maxDelayMs ?? 200);
  for (const [name, value] of [['delayMs', minDelay], ['maxDelayMs', options.maxDelayMs ?? 200]] as const) {
    if (!Number.isFinite(value) || value < 0 || value > 10_000) {
      throw new RxVoiceError('INVALID_ARGUMENT', `jitterBuffer: ${name} must be a number of ms in 0..10000, got ${String(value)}`);
    }
  }
  const maxHeld = Math.ceil(maxDelay / FRAME_MS) + 2;
  return (source) =>
    new Observable<JitterItem>((subscriber) => {
      const clock = options.clock ?? (options.scheduler ? schedulerClock(options.scheduler) : sharedVoiceClock());
      const held = new Map<number, ReceivedPacket>(); // by extended sequence
      const stats: JitterBufferStats = { played: 0, gaps: 0, late: 0, duplicates: 0, overflow: 0, resyncs: 0, malformed: 0, delayMs: minDelay, jitterMs: 0 };
      let highest = -1; // extended sequence of the highest packet seen
      let next = -1; // extended sequence of the next slot to play (-1: idle)
      let startAt = Infinity; // when an idle buffer starts playing
      let emptyGaps = 0;
      let lastWasSilence = false;
      let prevArrival = -1;
      let prevTimestamp = 0;
      let jitter = 0; // ms
      let done = false;

      const extend = (seq: number): number => (highest < 0 ? seq + 0x10000 : highest + sequenceDelta(seq, highest & 0xffff));

      const lowestHeld = (): number => {
        let min = Infinity;
        for (const k of held.keys()) if (k < min) min = k;
        return min;
      };

      const onPacket = (p: ReceivedPacket): void => {
        // Not an RTP packet as the receiver makes them (a u16 sequence, a u32 timestamp, an arrival time): dropped.
        if (!isUint(p.sequence, 0xffff) || !isUint(p.timestamp, 0xffffffff) || !Number.isFinite(p.receivedAt) || !Buffer.isBuffer(p.payload)) {
          stats.malformed++;
          return;
        }
        const ext = extend(p.sequence);
        if (next >= 0 && ext < next) {
          stats.late++;
          return;
        }
        if (held.has(ext)) {
          stats.duplicates++;
          return;
        }
        if (prevArrival >= 0) {
          const d = p.receivedAt - prevArrival - ((p.timestamp - prevTimestamp) | 0) / (SAMPLES_PER_FRAME / FRAME_MS);
          jitter += (Math.abs(d) - jitter) / 16;
          stats.jitterMs = jitter;
        }
        prevArrival = p.receivedAt;
        prevTimestamp = p.timestamp;
        if (ext > highest) highest = ext;
        held.set(ext, p);
        if (held.size > maxHeld) {
          held.delete(lowestHeld());
          stats.overflow++;
        }
        if (next < 0 && startAt === Infinity) {
          const adaptive = Math.ceil((3 * jitter) / FRAME_MS) * FRAME_MS;
          stats.delayMs = Math.min(maxDelay, Math.max(minDelay, adaptive));
          startAt = p.receivedAt + stats.delayMs;
        }
      };

      const emit = (item: JitterItem): void => {
        subscriber.next(item);
        options.onStats?.({ ...stats });
      };

      // One slot per tick; after an event-loop stall the clock reports the ticks it skipped,
      // and their slots are played out at once (else playout would stay behind by the stall
      // for the rest of the spurt, the buffer would fill up and drop packets that came on time).
      const stop = clock.add((tick) => {
        for (let i = 0; i <= tick.skipped; i++) if (!playSlot(clock.now())) return;
      });

      /** Plays the slot that is due (or starts a spurt); false when there is nothing (more) to play now. */
      const playSlot = (now: number): boolean => {
        if (next < 0) {
          if (held.size === 0) {
            if (done) finish();
            return false;
          }
          if (now < startAt && !done) return false;
          next = lowestHeld();
          startAt = Infinity;
          emptyGaps = 0;
        }
        let packet = held.get(next);
        if (!packet && held.size > 0) {
          const lowest = lowestHeld();
          if ((lowest - next) * FRAME_MS > maxDelay) {
            // A jump in the sender's sequence: follow it instead of playing seconds of gaps.
            stats.resyncs++;
            next = lowest;
            packet = held.get(next);
          }
        }
        if (packet) {
          held.delete(next);
          next++;
          stats.played++;
          emptyGaps = 0;
          lastWasSilence = isOpusSilence(packet.payload);
          emit(packet.payload);
          if (held.size === 0 && (lastWasSilence || done)) {
            goIdle();
            return false;
          }
          return true;
        }
        if (held.size === 0 && (lastWasSilence || done || (emptyGaps + 1) * FRAME_MS > maxDelay)) {
          goIdle();
          return false;
        }
        if (held.size === 0) emptyGaps++;
        const following = held.get(next + 1);
        next++;
        stats.gaps++;
        emit(following ? { gap: true, next: following.payload } : OPUS_GAP);
        return true;
      };

      const goIdle = (): void => {
        next = -1;
        startAt = Infinity;
        lastWasSilence = false;
        if (done && held.size === 0) finish();
      };

      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        stop();
        subscriber.complete();
      };

      const upstream = source.subscribe({
        next: onPacket,
        error: (err: unknown) => {
          stop();
          subscriber.error(err);
        },
        complete: () => {
          done = true;
          if (held.size === 0 && next < 0) finish();
        },
      });
      return () => {
        stop();
        upstream.unsubscribe();
      };
    });
}
