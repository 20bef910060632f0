import { Observable } from 'rxjs';
import { sendLaneOf } from '../../core/SendLane';
import { RxVoiceError } from '../../errors';
import type { VoiceConnection } from '../../gateway/connectVoice';
import type { PlaybackCommand } from '../../sinks/createPlaybackControl';
import { connectionClosedError, initialProgress, type PacketFeed, type PlaybackProgress, type PlayFeedOptions } from '../../sinks/internal/playFeed';
import type { DriverConnection } from './DriverConnection';
import { nextDriverId, type DriverClient, type DriverThread } from './DriverPool';
import { packBytes, type DriverEvent } from './messages';

/** Packets handed over per push at most (5 s). */
const MAX_PUSH = 250;
/**
 * Packets the driver holds (not yet sent) above which pushes wait for {@link MIN_PUSH} new
 * ones: half the feed's lead, at most 25 (500 ms). Below it every packet is handed over as
 * soon as it is read; above it, in batches (fewer messages, the same lead).
 */
const MAX_PLENTY = 25;
/** See {@link MAX_PLENTY}. */
const MIN_PUSH = 5;
/**
 * How often sessions check their feed for new packets when nothing else wakes them, ms. Each
 * report of packets sent (every tick while playing) pumps too, so this only matters while
 * the driver holds nothing (start, after a seek): well under the lead.
 */
const PUMP_MS = 50;

const pumps = new Set<() => void>();
let pumpTimer: NodeJS.Timeout | null = null;
const addPump = (pump: () => void): (() => void) => {
  pumps.add(pump);
  if (!pumpTimer) {
    pumpTimer = setInterval(() => {
      for (const p of pumps) p();
    }, PUMP_MS);
    pumpTimer.unref();
  }
  return () => {
    pumps.delete(pump);
    if (pumps.size === 0 && pumpTimer) {
      clearInterval(pumpTimer);
      pumpTimer = null;
    }
  };
};

/**
 * `playFeed` for a connection on a driver thread. The send session itself (clock, RTP,
 * sealing, silence frames, SPEAKING) runs there, on the driver's `playFeed`; this side
 * reads the feed (sources, demand, a player's queue) on the main thread and hands its
 * packets over as soon as they are read — up to `leadMs` ahead, so a main thread that
 * stalls for less than that changes nothing on the wire. A packet leaves the feed
 * (`shift`: demand, a player's track events) when the driver reports it sent.
 *
 * Generations: a skip or a seek makes what was handed over stale; the driver drops it and
 * counts from the new generation, and reports of an older one are ignored.
 */
export function remotePlayFeed(
  conn: VoiceConnection,
  target: () => DriverConnection | null,
  createFeed: () => PacketFeed,
  options: PlayFeedOptions,
): Observable<PlaybackProgress> {
  return new Observable<PlaybackProgress>((subscriber) => {
    const lane = sendLaneOf(conn);
    const plenty = Math.max(MIN_PUSH, Math.min(MAX_PLENTY, Math.floor((options.leadMs ?? 1000) / 40)));
    const feed = createFeed();
    let last: PlaybackProgress = initialProgress();
    let thread: DriverThread | null = null;
    let sink = 0;
    let gen = 0;
    /** Packets of this generation handed over and not yet reported taken. */
    let pumped = 0;
    let finalSent: boolean | null = null;
    let finished = false;
    let granted = false;
    /** Commands given before the session was open on the driver. */
    const early: PlaybackCommand[] = [];
    let removePump = (): void => undefined;
    let releaseLane = (): void => undefined;

    const emit = (p: PlaybackProgress): void => {
      // The position on the input's timeline is known here (media-time tags do not cross threads).
      last = { ...p, positionMs: feed.positionMs ?? p.positionMs, bufferedMs: feed.bufferedMs, droppedFrames: feed.droppedFrames };
      subscriber.next(last);
    };

    const pump = (): void => {
      if (finished) return;
      if (!sink) {
        if (granted) open();
        return;
      }
      const { packets, final } = feed.ahead(pumped, MAX_PUSH);
      if (packets.length === 0 && final === finalSent) return;
      // While the driver holds plenty, hand over in batches: fewer messages, same lead.
      if (packets.length < MIN_PUSH && final === finalSent && pumped >= plenty) return;
      const { data, lengths } = packBytes(packets);
      pumped += packets.length;
      finalSent = final;
      const failed = final && feed.error !== null && feed.error !== undefined;
      thread?.post({ t: 'sink-push', sink, gen, data, lengths, final, failed }, data);
    };

    const finish = (failure: unknown): void => {
      if (finished) return;
      finished = true;
      removePump();
      if (thread && sink) thread.sinks.delete(sink);
      feed.onDiscontinuity = null;
      releaseLane();
      feed.stop();
      feed.dispose();
      emit({ ...last, status: 'ended' });
      if (failure !== null && failure !== undefined) subscriber.error(failure);
      else subscriber.complete();
    };

    const taken = (g: number, count: number): void => {
      if (g !== gen) return;
      for (let i = 0; i < count; i++) feed.shift();
      pumped = Math.max(0, pumped - count);
    };

    const client: DriverClient = {
      onTaken(g, count) {
        taken(g, count);
        pump();
      },
      onEvent(e: DriverEvent) {
        if (e.t === 'sink-progress') {
          taken(e.gen, e.taken);
          if (e.progress && e.progress.status !== 'ended') emit(e.progress);
          else if (e.progress) last = { ...e.progress }; // emitted by `finish`
          pump();
        } else if (e.t === 'sink-end') {
          if (e.feedFailed) finish(feed.error ?? new RxVoiceError('CONNECTION_CLOSED', 'the input failed'));
          else if (e.error) finish(new RxVoiceError(e.error.code, e.error.message));
          else {
            // As the in-process engine's last `shift` on an empty feed: a player ends its last track here.
            if (feed.ahead(0, 1).packets.length === 0) feed.shift();
            finish(null);
          }
        }
      },
      onCrash(error) {
        finish(new RxVoiceError('CONNECTION_CLOSED', `the driver thread died; playback stopped: ${error.message}`, { cause: error }));
      },
    };

    const post = (command: PlaybackCommand): void => {
      if (command.type === 'seek') {
        gen++;
        pumped = 0;
        finalSent = null;
        feed.seek(command.positionMs);
      }
      thread?.post({ t: 'sink-command', sink, command, gen });
      if (command.type === 'seek') pump();
    };

    /** Opens the session on the driver thread of the connection, once there is one. */
    const open = (): void => {
      const dc = target();
      if (!dc || finished) return;
      if (!dc.thread.alive) return;
      thread = dc.thread;
      sink = nextDriverId();
      thread.sinks.set(sink, client);
      thread.post({
        t: 'sink-open',
        id: dc.id,
        sink,
        silenceFrames: options.silenceFrames,
        speakingFlags: options.speakingFlags,
        progressEveryMs: options.progressEveryMs,
        frameMs: options.clock?.frameMs,
      });
      feed.onDiscontinuity = () => {
        if (finished || !thread) return;
        gen++;
        pumped = 0;
        finalSent = null;
        thread.post({ t: 'sink-reset', sink, gen });
        pump();
      };
      for (const c of early.splice(0)) post(c);
      pump();
    };

    const onCommand = (command: PlaybackCommand): void => {
      if (finished) return;
      if (!sink) {
        if (command.type === 'stop') {
          feed.stop();
          finish(null);
          return;
        }
        if (command.type === 'seek') feed.seek(command.positionMs);
        else early.push(command);
        return;
      }
      if (command.type === 'stop') feed.stop();
      post(command);
    };

    feed.start();
    const commands = options.control?.commands$.subscribe(onCommand);
    const states = conn.state$.subscribe((s) => {
      if (s.status === 'destroyed' || s.status === 'disconnected') {
        finish(connectionClosedError(s));
      }
    });
    if (!finished) {
      releaseLane = lane.acquire(() => {
        granted = true;
        if (finished) return;
        removePump = addPump(pump);
        open();
      });
      if (!granted) emit({ ...last, status: 'queued' });
      else if (!sink) emit(last);
    }

    return () => {
      if (!finished) {
        finished = true;
        removePump();
        feed.onDiscontinuity = null;
        if (thread && sink) {
          thread.sinks.delete(sink);
          thread.post({ t: 'sink-close', sink });
        }
        releaseLane();
        feed.stop();
        feed.dispose();
      }
      commands?.unsubscribe();
      states.unsubscribe();
    };
  });
}
