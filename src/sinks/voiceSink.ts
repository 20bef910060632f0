import { Observable, type OperatorFunction, type SchedulerLike } from 'rxjs';
import { FRAME_MS, OPUS_SILENCE_FRAME, type OpusPacket } from '../core/audioFormat';
import { SinkDemand, withDemand } from '../core/FrameDemand';
import { RtpSender } from '../core/RtpSender';
import { schedulerClock, sharedVoiceClock, type ClockTick, type VoiceClock } from '../core/VoiceClock';
import { RxVoiceError } from '../errors';
import type { VoiceConnection, VoiceTransport } from '../gateway/connectVoice';
import type { PlaybackCommand, PlaybackControl } from './createPlaybackControl';

/** Options of {@link voiceSink}. */
export interface VoiceSinkOptions {
  /** Pause, resume, stop and seek (see `createPlaybackControl`). */
  control?: PlaybackControl;
  /** The clock to pace on. Default: the process-wide high-resolution clock. */
  clock?: VoiceClock;
  /** Pace on this RxJS scheduler instead (marble tests). */
  scheduler?: SchedulerLike;
  /** How far sources may read ahead of what was sent, ms. Default 1000. */
  leadMs?: number;
  /** Opus silence frames sent when the stream ends or pauses. Default 5 (Discord docs). */
  silenceFrames?: number;
  /** op 5 SPEAKING flags while playing. Default 1 (microphone). */
  speakingFlags?: number;
  /** Emit progress at least every this many ms of audio. Default 1000. */
  progressEveryMs?: number;
}

/** Progress of a playing stream, emitted by {@link voiceSink}. */
export interface PlaybackProgress {
  /** `buffering`: waiting for the source or for the connection to be ready. */
  status: 'playing' | 'paused' | 'buffering' | 'ended';
  /** Position in the input, ms (follows seeks). */
  positionMs: number;
  /** Audio packets sent (not counting silence frames). */
  framesSent: number;
  /** Clock ticks missed because the event loop stalled (each is 20 ms of delay). */
  framesLate: number;
  /** Ticks with no frame to send while the source was still running. */
  underruns: number;
  silenceFramesSent: number;
  /** Frames dropped because a source ignored demand and overflowed the queue. */
  droppedFrames: number;
}

/**
 * Plays Opus packets into a voice connection: paces them on the shared 20 ms clock,
 * adds RTP headers (sequence, timestamp, SSRC), encrypts them with the connection's
 * transport cipher and sends them on its UDP socket. SPEAKING goes on at the first frame
 * and off after 5 silence frames at the end, on pause and on stop.
 *
 * Backpressure: upstream is subscribed inside `withDemand`, so sources read only
 * `leadMs` ahead of what was sent. After an event-loop stall the missed frames are not
 * burst out: the next frame goes at the next tick, the RTP timestamp skips the gap, and
 * the ticks are counted in `framesLate`. While the connection is not ready (e.g.
 * resuming) frames wait (`status: 'buffering'`).
 *
 * Emits {@link PlaybackProgress} every `progressEveryMs` of audio and on status changes;
 * the last emission has `status: 'ended'`, then it completes. Errors when the source
 * errors (after the trailing silence frames) or when the connection is destroyed or gives
 * up (`RxVoiceError` code `CONNECTION_CLOSED`). Unsubscribing stops at once.
 *
 * @example
 * ```ts
 * ffmpegSource('song.mp3').pipe(opusEncode(), voiceSink(conn)).subscribe((p) => console.log(p.positionMs));
 * ```
 */
export function voiceSink(conn: VoiceConnection, options: VoiceSinkOptions = {}): OperatorFunction<OpusPacket, PlaybackProgress> {
  return (source) =>
    new Observable<PlaybackProgress>((subscriber) => {
      const clock = options.clock ?? (options.scheduler ? schedulerClock(options.scheduler) : sharedVoiceClock());
      const silenceFrames = options.silenceFrames ?? 5;
      const speakingFlags = options.speakingFlags ?? 1;
      const progressEvery = options.progressEveryMs ?? 1000;
      const leadFrames = Math.ceil((options.leadMs ?? 1000) / FRAME_MS);
      const maxQueue = leadFrames * 2 + 50;
      const demand = new SinkDemand(options.leadMs ?? 1000);
      const rtp = new RtpSender();
      const queue = new PacketQueue();
      const p: PlaybackProgress = {
        status: 'buffering',
        positionMs: 0,
        framesSent: 0,
        framesLate: 0,
        underruns: 0,
        silenceFramesSent: 0,
        droppedFrames: 0,
      };
      let lastEmittedAt = -Infinity;
      let lastStatus: PlaybackProgress['status'] | null = null;
      let upstreamDone = false;
      let upstreamError: unknown = null;
      let paused = false;
      let ending = false;
      let speaking = false;
      let silenceLeft = 0;
      let pendingSkip = 0;
      let finished = false;
      let stopClock = (): void => undefined;

      const emit = (force = false): void => {
        if (force || p.status !== lastStatus || p.positionMs - lastEmittedAt >= progressEvery) {
          lastStatus = p.status;
          lastEmittedAt = p.positionMs;
          subscriber.next({ ...p });
        }
      };

      // The packet for the next tick, sealed after this tick's burst (in `afterTick`), so that
      // a tick only sends: it is used if the tick sends the same payload on the same transport,
      // else dropped and the RTP state (sequence, timestamp, nonce) taken back.
      let tickTransport: VoiceTransport | null = null;
      let prepared: Buffer | null = null;
      let preparedPayload: Buffer | null = null;
      let preparedFor: VoiceTransport | null = null;
      let savedSequence = 0;
      let savedTimestamp = 0;
      let savedNonce = 0;

      const dropPrepared = (): void => {
        if (prepared === null) return;
        rtp.sequence = savedSequence;
        rtp.timestamp = savedTimestamp;
        rtp.nonce = savedNonce;
        prepared = preparedPayload = preparedFor = null;
      };

      const send = (t: VoiceTransport, payload: Buffer): void => {
        if (prepared !== null && preparedPayload === payload && preparedFor === t) {
          t.udp.send(prepared);
          prepared = preparedPayload = preparedFor = null;
          if (pendingSkip > 0) rtp.advance(pendingSkip); // as `rtp.packet(…, 1 + pendingSkip)` would have
        } else {
          dropPrepared();
          t.udp.send(rtp.packet(t.cipher, t.ssrc, t.e2ee(payload), 1 + pendingSkip));
        }
        pendingSkip = 0;
      };

      /** After every sink's send of this tick: seal what the next tick will most likely send. */
      const afterTick = (): void => {
        const t = tickTransport; // as onTick read it (a transport changes only on network events)
        tickTransport = null;
        if (finished || prepared !== null || !t) return;
        const payload = silenceLeft > 0 ? (OPUS_SILENCE_FRAME as Buffer) : !paused && !ending ? queue.peek() : undefined;
        if (payload === undefined) return;
        savedSequence = rtp.sequence;
        savedTimestamp = rtp.timestamp;
        savedNonce = rtp.nonce;
        prepared = rtp.packet(t.cipher, t.ssrc, t.e2ee(payload), 1);
        preparedPayload = payload;
        preparedFor = t;
      };

      const startSilence = (): void => {
        silenceLeft = speaking ? silenceFrames : 0;
      };

      const finish = (): void => {
        if (finished) return;
        finished = true;
        stopClock();
        upstream.unsubscribe();
        demand.complete();
        p.status = 'ended';
        emit(true);
        if (upstreamError !== null) subscriber.error(upstreamError);
        else subscriber.complete();
      };

      const onTick = (tick: ClockTick): void => {
        if (tick.skipped > 0) {
          p.framesLate += tick.skipped;
          if (speaking) pendingSkip += tick.skipped;
        }
        const t = conn.transport; // a getter chain: read once per tick
        tickTransport = t;
        if (!t) {
          if (!paused && !ending) p.status = 'buffering';
          emit();
          return;
        }
        if (silenceLeft === 0 && !paused && !ending) {
          const frame = queue.shift();
          if (frame) {
            if (!speaking) {
              speaking = true;
              pendingSkip = 0;
              conn.setSpeaking(speakingFlags);
            }
            send(t, frame);
            p.framesSent++;
            p.positionMs += FRAME_MS;
            p.status = 'playing';
            demand.consume(FRAME_MS);
            emit();
            return;
          }
          if (!upstreamDone) {
            p.underruns++;
            p.status = 'buffering';
            emit();
            return;
          }
          ending = true;
          startSilence();
        }
        if (silenceLeft > 0) {
          send(t, OPUS_SILENCE_FRAME as Buffer);
          p.silenceFramesSent++;
          silenceLeft--;
          if (silenceLeft === 0) {
            speaking = false;
            conn.setSpeaking(0);
          }
        }
        if (ending && silenceLeft === 0) return finish();
        if (paused) p.status = 'paused';
        emit();
      };

      const onCommand = (cmd: PlaybackCommand): void => {
        if (finished || ending) return;
        switch (cmd.type) {
          case 'pause':
            if (paused) return;
            paused = true;
            p.status = 'paused';
            startSilence();
            return;
          case 'resume':
            paused = false;
            return;
          case 'stop':
            upstream.unsubscribe();
            queue.clear();
            ending = true;
            startSilence();
            return;
          case 'seek':
            queue.clear();
            p.positionMs = cmd.positionMs;
            demand.seek(cmd.positionMs);
            demand.wake();
            return;
        }
      };

      const upstream = withDemand(demand, () =>
        source.subscribe({
          next: (frame) => {
            queue.push(frame);
            if (queue.length > maxQueue) {
              queue.shift();
              p.droppedFrames++;
            }
          },
          error: (err: unknown) => {
            upstreamError = err;
            upstreamDone = true;
            queue.clear();
          },
          complete: () => {
            upstreamDone = true;
          },
        }),
      );
      const commands = options.control?.commands$.subscribe(onCommand);
      const states = conn.state$.subscribe((s) => {
        if (s.status === 'destroyed' || s.status === 'disconnected') {
          upstreamError = new RxVoiceError('CONNECTION_CLOSED', `the voice connection is ${s.status}; playback stopped`, {
            cause: s.status === 'disconnected' ? s.error : undefined,
          });
          finish();
        }
      });
      if (!finished) stopClock = clock.add(onTick, afterTick);

      return () => {
        finished = true;
        stopClock();
        upstream.unsubscribe();
        commands?.unsubscribe();
        states.unsubscribe();
        demand.complete();
        if (speaking && conn.transport) conn.setSpeaking(0);
      };
    });
}

/** FIFO of the packets waiting for their tick: an array with a read index (no `shift()` per frame). */
class PacketQueue {
  private items: Array<OpusPacket | undefined> = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(packet: OpusPacket): void {
    this.items.push(packet);
  }

  /** The next packet, left in the queue. */
  peek(): OpusPacket | undefined {
    return this.items[this.head];
  }

  shift(): OpusPacket | undefined {
    if (this.head === this.items.length) return undefined;
    const packet = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 256 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return packet;
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
  }
}
