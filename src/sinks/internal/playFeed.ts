import { Observable, type SchedulerLike } from 'rxjs';
import { FRAME_MS, OPUS_SILENCE_FRAME, type OpusPacket } from '../../core/audioFormat';
import { propertyReader } from '../../core/propertyReader';
import { sendLaneOf } from '../../core/SendLane';
import { schedulerClock, sharedVoiceClock, type ClockTick, type VoiceClock } from '../../core/VoiceClock';
import { RxVoiceError, type RxVoiceWarning } from '../../errors';
import type { VoiceConnection, VoiceTransport } from '../../gateway/connectVoice';
import type { VoiceConnectionState } from '../../gateway/VoiceConnectionState';
import type { PlaybackCommand, PlaybackControl } from '../createPlaybackControl';
import { remoteTargetOf } from '../../driver/internal/remoteTarget';
import { remotePlayFeed } from '../../driver/internal/remotePlayFeed';

/**
 * Size of a sink's reusable packet buffer: the largest Opus packet (1275 bytes), DAVE's
 * trailer, the RTP header with extensions and the transport's tag and nonce fit. A larger
 * packet is sealed into a new buffer.
 */
const OUT_BUFFER_SIZE = 1536;

/** Options of a sink that plays into a voice connection (see `voiceSink`). */
export interface PlayFeedOptions {
  /** Pause, resume, stop and seek (see `createPlaybackControl`). */
  control?: PlaybackControl;
  /** The clock to pace on. Default: the process-wide high-resolution clock. */
  clock?: VoiceClock;
  /** Pace on this RxJS scheduler instead (marble tests). */
  scheduler?: SchedulerLike;
  /** Opus silence frames sent when the stream ends or pauses. Default 5 (Discord docs). */
  silenceFrames?: number;
  /** op 5 SPEAKING flags while playing. Default 1 (microphone). */
  speakingFlags?: number;
  /** Emit progress at least every this many ms of audio. Default 1000. */
  progressEveryMs?: number;
  /**
   * How far the feed reads ahead of what was sent, ms (the sink's or player's `leadMs`).
   * On a driver thread, packets are handed over in batches while the driver holds more than
   * half of it (at most 500 ms). Default 1000.
   */
  leadMs?: number;
  /** Where warnings go (e.g. `RXVOICE_NO_DEMAND`). Default `process.emitWarning`. */
  onWarning?: (warning: RxVoiceWarning) => void;
}

/** Progress of a playing stream, emitted by `voiceSink`. */
export interface PlaybackProgress {
  /**
   * `queued`: another sink is playing on this connection; this one starts when it ends.
   * `buffering`: waiting for the source or for the connection to be ready.
   */
  status: 'queued' | 'playing' | 'paused' | 'buffering' | 'ended';
  /**
   * Position in the input, ms (follows seeks): on the input's own timeline, from the packets'
   * media-time tags where they carry them (`ffmpegSource` from its `seekMs`, through
   * `timescale`: at speed 1.25 it advances 25 ms per packet), else 20 ms per packet sent.
   */
  positionMs: number;
  /** Audio packets sent (not counting silence frames). */
  framesSent: number;
  /** Clock ticks missed because the event loop stalled (each is 20 ms of delay). */
  framesLate: number;
  /** Ticks with no frame to send after the first frame, while the source was still running (the wait for the first frame is not counted). */
  underruns: number;
  silenceFramesSent: number;
  /** Audio held for sending, ms (at most about the sink's `leadMs` with demand-aware sources). */
  bufferedMs: number;
  /** Frames dropped because a source without demand overflowed the memory bound (`maxBufferedBytes`). */
  droppedFrames: number;
}

/** The error a sink ends with when its connection is destroyed or gives up (`cause`: the connection's error). */
export function connectionClosedError(s: Extract<VoiceConnectionState, { status: 'destroyed' | 'disconnected' }>): RxVoiceError {
  return new RxVoiceError('CONNECTION_CLOSED', `the voice connection is ${s.status === 'destroyed' ? `destroyed (${s.reason})` : s.status}; playback stopped`, {
    cause: s.status === 'disconnected' ? s.error : undefined,
  });
}

/** Progress before the first tick (`buffering`, all counts 0). */
export function initialProgress(): PlaybackProgress {
  return { status: 'buffering', positionMs: 0, framesSent: 0, framesLate: 0, underruns: 0, silenceFramesSent: 0, bufferedMs: 0, droppedFrames: 0 };
}

/**
 * Where a sink takes its packets from: `voiceSink` reads its upstream into a queue; a
 * player reads tracks one after the other.
 */
export interface PacketFeed {
  /** Starts reading (called once, when the sink is subscribed). */
  start(): void;
  /** The packet the next send would take, left in place (sealed ahead of its tick). */
  peek(): OpusPacket | undefined;
  /** Takes the next packet: it is being sent now. */
  shift(): OpusPacket | undefined;
  /** True once no packet will follow the queued ones. */
  readonly ended: boolean;
  /** Why the input ended, if it failed (emitted by the sink after its trailing silence). */
  readonly error: unknown;
  /** Audio queued, ms. */
  readonly bufferedMs: number;
  /** Frames dropped above the memory bound. */
  readonly droppedFrames: number;
  /**
   * Position on the input's timeline after the last packet taken, ms, where the feed knows
   * it (from the packets' media-time tags: right through `timescale`); else the sink counts
   * 20 ms per packet sent.
   */
  readonly positionMs?: number;
  /** `seek` command: drop what is queued and continue from `ms` of the input. */
  seek(ms: number): void;
  /** Stop reading and drop what is queued (stop command, unsubscribe). */
  stop(): void;
  /** Called once when the sink is done (after `stop` if it was stopped). */
  dispose(): void;
  /**
   * The packets that will be taken next, from position `skip` (0: the one `peek` gives), at
   * most `max`, left in place; `final`: no packet will follow them as things stand (a
   * connection on a driver thread gets them ahead of time and reports what it took).
   */
  ahead(skip: number, max: number): { packets: OpusPacket[]; final: boolean };
  /** Set by a session on a driver thread: the feed calls it when what it will give next is not what `ahead` returned (a skip or a seek). */
  onDiscontinuity?: (() => void) | null;
}

/**
 * Plays `createFeed()`'s packets into `conn` (the engine of `voiceSink` and players): waits
 * for the connection's {@link SendLane}, paces on the clock, adds RTP headers from the
 * connection's RTP state, seals with the transport cipher and sends. See `voiceSink` for
 * the behaviour; this is it, with the input abstracted.
 */
export function playFeed(conn: VoiceConnection, createFeed: () => PacketFeed, options: PlayFeedOptions = {}): Observable<PlaybackProgress> {
  const remote = options.scheduler ? undefined : remoteTargetOf(conn);
  if (remote) return remotePlayFeed(conn, remote, createFeed, options);
  return new Observable<PlaybackProgress>((subscriber) => {
    const clock = options.clock ?? (options.scheduler ? schedulerClock(options.scheduler) : sharedVoiceClock());
    const silenceFrames = options.silenceFrames ?? 5;
    const speakingFlags = options.speakingFlags ?? 1;
    const progressEvery = options.progressEveryMs ?? 1000;
    const lane = sendLaneOf(conn);
    const rtp = lane.rtp;
    /** `conn.transport` without a property lookup per tick (see propertyReader). */
    const readTransport = propertyReader(conn, 'transport');
    const feed = createFeed();
    const p = initialProgress();
    let lastEmittedAt = -Infinity;
    let lastStatus: PlaybackProgress['status'] | null = null;
    let paused = false;
    let ending = false;
    let speaking = false;
    let silenceLeft = 0;
    let pendingSkip = 0;
    let finished = false;
    let granted = false;
    /** Until the first tick that is not the previous owner's last one (see `onTick`). */
    let handover = true;
    let stopClock = (): void => undefined;

    const emit = (force = false): void => {
      if (force || p.status !== lastStatus || p.positionMs - lastEmittedAt >= progressEvery) {
        lastStatus = p.status;
        lastEmittedAt = p.positionMs;
        p.bufferedMs = feed.bufferedMs;
        p.droppedFrames = feed.droppedFrames;
        subscriber.next({ ...p });
      }
    };

    // The packet for the next tick, sealed after this tick's burst (in `afterTick`), so that
    // a tick only sends: it is used if the tick sends the same payload on the same transport,
    // else dropped and its sequence number and timestamp taken back (never its nonce).
    let tickTransport: VoiceTransport | null = null;
    let tickNow = 0;
    let prepared: Buffer | null = null;
    let preparedPayload: Buffer | null = null;
    let preparedFor: VoiceTransport | null = null;
    let savedSequence = 0;
    let savedTimestamp = 0;
    let preparedSequence = 0;
    let preparedTimestamp = 0;
    // Packets are sealed into this sink's own buffer (no allocation per packet): it is free
    // again once the UDP socket says the send no longer references it; a send still queued
    // keeps the buffer and the sink takes a new one.
    let out = Buffer.allocUnsafeSlow(OUT_BUFFER_SIZE);
    let outBusy = false;
    /** The buffer to seal into, if it is free. */
    const sealBuffer = (): Buffer | undefined => (outBusy ? undefined : out);
    /** After `packet` was sealed (into `out`, or not) and sent: can `out` be reused? */
    const sent = (packet: Buffer, released: boolean | void): void => {
      if (packet.buffer !== out.buffer) return;
      if (released === true) outBusy = false;
      else {
        out = Buffer.allocUnsafeSlow(OUT_BUFFER_SIZE);
        outBusy = false;
      }
    };

    /**
     * Forgets the prepared packet and gives its sequence number and timestamp back, unless
     * something else on the connection (`packetize`) has numbered packets since. The nonce is
     * never given back: a skipped nonce is harmless, a reused one is not.
     */
    const dropPrepared = (): void => {
      if (prepared === null) return;
      if (rtp.sequence === preparedSequence && rtp.timestamp === preparedTimestamp) {
        rtp.sequence = savedSequence;
        rtp.timestamp = savedTimestamp;
      }
      if (prepared.buffer === out.buffer) outBusy = false;
      prepared = preparedPayload = preparedFor = null;
    };

    const send = (t: VoiceTransport, payload: Buffer): void => {
      if (prepared !== null && preparedPayload === payload && preparedFor === t) {
        const packet = prepared;
        prepared = preparedPayload = preparedFor = null;
        sent(packet, t.udp.send(packet));
        if (pendingSkip > 0) rtp.advance(pendingSkip); // as `rtp.packet(…, 1 + pendingSkip)` would have
      } else {
        dropPrepared();
        const packet = rtp.packet(t.cipher, t.ssrc, t.e2ee(payload), 1 + pendingSkip, sealBuffer());
        sent(packet, t.udp.send(packet));
      }
      pendingSkip = 0;
      lane.lastSentAt = tickNow;
      lane.lastSentClock = clock;
    };

    /** After every sink's send of this tick: seal what the next tick will most likely send. */
    const afterTick = (): void => {
      const t = tickTransport; // as onTick read it (a transport changes only on network events)
      tickTransport = null;
      if (finished || prepared !== null || !t) return;
      const payload = silenceLeft > 0 ? (OPUS_SILENCE_FRAME as Buffer) : !paused && !ending ? feed.peek() : undefined;
      if (payload === undefined) return;
      savedSequence = rtp.sequence;
      savedTimestamp = rtp.timestamp;
      prepared = rtp.packet(t.cipher, t.ssrc, t.e2ee(payload), 1, sealBuffer());
      if (prepared.buffer === out.buffer) outBusy = true;
      preparedSequence = rtp.sequence;
      preparedTimestamp = rtp.timestamp;
      preparedPayload = payload;
      preparedFor = t;
    };

    const startSilence = (): void => {
      silenceLeft = speaking ? silenceFrames : 0;
    };

    let releaseLane = (): void => undefined;
    /** Gives the lane back with the RTP state as the packets actually sent left it. */
    const leaveLane = (): void => {
      stopClock();
      dropPrepared();
      releaseLane();
    };

    const finish = (failure: unknown = feed.error): void => {
      if (finished) return;
      finished = true;
      leaveLane();
      feed.stop();
      feed.dispose();
      p.status = 'ended';
      emit(true);
      if (failure !== null && failure !== undefined) subscriber.error(failure);
      else subscriber.complete();
    };

    const onTick = (tick: ClockTick): void => {
      tickNow = tick.now;
      if (tick.skipped > 0) {
        p.framesLate += tick.skipped;
        if (speaking) pendingSkip += tick.skipped;
      }
      // A sink that took the lane over in the tick where the previous owner sent its last
      // packet waits for the next tick (no two packets of one stream in one tick).
      if (handover) {
        if (lane.lastSentClock === clock && tick.now - lane.lastSentAt < clock.frameMs / 2) return;
        handover = false;
      }
      const t = readTransport(); // a getter chain: read once per tick
      tickTransport = t;
      if (!t) {
        if (!paused && !ending) p.status = 'buffering';
        emit();
        return;
      }
      if (silenceLeft === 0 && !paused && !ending) {
        const frame = feed.shift();
        if (frame) {
          if (!speaking) {
            speaking = true;
            pendingSkip = 0;
            conn.setSpeaking(speakingFlags);
          }
          send(t, frame);
          p.framesSent++;
          p.positionMs = feed.positionMs ?? p.positionMs + FRAME_MS;
          p.status = 'playing';
          emit();
          return;
        }
        if (!feed.ended) {
          if (p.framesSent > 0) p.underruns++; // waiting for the first frame (ffmpeg starting) is not an underrun
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
          feed.stop();
          ending = true;
          startSilence();
          if (!granted) finish();
          return;
        case 'seek':
          p.positionMs = cmd.positionMs;
          feed.seek(cmd.positionMs);
          return;
      }
    };

    feed.start();
    const commands = options.control?.commands$.subscribe(onCommand);
    const states = conn.state$.subscribe((s) => {
      if (s.status === 'destroyed' || s.status === 'disconnected') {
        feed.stop();
        finish(connectionClosedError(s));
      }
    });
    if (!finished) {
      releaseLane = lane.acquire(() => {
        granted = true;
        if (!finished) stopClock = clock.add(onTick, afterTick);
      });
      if (finished) {
        // A synchronous scheduler ran the whole stream inside acquire.
        stopClock();
        releaseLane();
      }
      if (!granted) {
        p.status = 'queued';
        emit(true);
      }
    }

    return () => {
      if (!finished) {
        finished = true;
        leaveLane();
        feed.stop();
        feed.dispose();
      }
      commands?.unsubscribe();
      states.unsubscribe();
      if (speaking && conn.transport) conn.setSpeaking(0);
    };
  });
}
