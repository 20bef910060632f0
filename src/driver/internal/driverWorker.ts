/**
 * A driver thread: runs whole voice connections (gateway WebSocket, reducer, DAVE, UDP,
 * receive decryption) and their send sessions (the 20 ms clock, RTP, sealing) with the same
 * code as the in-process path, driven by plain-data commands from the main thread.
 */
import { performance } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import type { Subscription } from 'rxjs';
import type { OpusPacket } from '../../core/audioFormat';
import { FRAME_MS } from '../../core/audioFormat';
import { createHighResolutionClock } from '../../core/VoiceClock';
import { readTickLateness } from '../../core/sendLateness';
import { RxVoiceError } from '../../errors';
import { connectVoiceInProcess, type VoiceConnection } from '../../gateway/connectVoice';
import { transportKeyOf } from '../../gateway/internal/transportKey';
import type { ReceiveStats } from '../../gateway/VoiceReceiver';
import type { VoiceConnectionState } from '../../gateway/VoiceConnectionState';
import { createPlaybackControl, type PlaybackCommand, type PlaybackControl } from '../../sinks/createPlaybackControl';
import { PacketQueue } from '../../sinks/internal/PacketQueue';
import { playFeed, type PacketFeed, type PlaybackProgress } from '../../sinks/internal/playFeed';
import { configureVoiceDriver } from '../configureVoiceDriver';
import { packBytes, unpackBytes, type DriverCommand, type DriverEvent, type PlainError, type PlainState } from './messages';

const port = parentPort;
if (!port) throw new Error('driverWorker must run in a worker thread');
configureVoiceDriver({ threads: 0 }); // everything here runs in this thread

// ---- outbox: one postMessage per event-loop turn ----
let outbox: DriverEvent[] = [];
let transfers: ArrayBuffer[] = [];
let flushScheduled = false;
const flush = (): void => {
  flushScheduled = false;
  if (sinks.size > 0) reportSinks();
  for (const c of conns.values()) c.flushReceive();
  if (outbox.length === 0) return;
  const batch = outbox;
  const list = transfers;
  outbox = [];
  transfers = [];
  port.postMessage(batch, list);
};
const post = (event: DriverEvent, transfer?: ArrayBuffer): void => {
  outbox.push(event);
  if (transfer) transfers.push(transfer);
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
};
const wake = (): void => {
  if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flush);
  }
};

const plainError = (err: unknown): PlainError =>
  err instanceof RxVoiceError
    ? { code: err.code, message: err.message }
    : { code: 'CONNECTION_CLOSED', message: err instanceof Error ? err.message : String(err) };

const plainState = (s: VoiceConnectionState): PlainState => {
  if (s.status === 'disconnected') {
    return { status: 'disconnected', endpoint: s.endpoint, error: { code: s.error.code, message: s.error.message, closeCode: s.error.closeCode } };
  }
  return { ...s } as PlainState;
};

// ---- connections ----
class HostedConnection {
  readonly subs: Subscription[] = [];
  private receive: Subscription | null = null;
  private readonly rx = { ssrc: [] as number[], sequence: [] as number[], timestamp: [] as number[], receivedAt: [] as number[], payload: [] as Uint8Array[] };
  private lastStats: ReceiveStats | null = null;
  /** Something that moves the receive counters happened this turn. */
  statsDirty = false;

  constructor(
    readonly id: number,
    readonly conn: VoiceConnection,
  ) {
    const { subs } = this;
    let lastTransport: unknown = null;
    const checkTransport = (): void => {
      const t = conn.transport;
      if (t === lastTransport) return;
      lastTransport = t;
      const key = t ? transportKeyOf(t) : undefined;
      post({ t: 'transport', id, transport: t && key ? { ssrc: t.ssrc, mode: t.mode, key: new Uint8Array(key) } : null });
    };
    // A state leaves after the transport it goes with (set by the connection in the same
    // model change): the main thread has the transport when it sees `ready`.
    subs.push(
      conn.state$.subscribe((state) =>
        queueMicrotask(() => {
          checkTransport();
          post({ t: 'state', id, state: plainState(state) });
        }),
      ),
    );
    subs.push(
      conn.messages$.subscribe((message) => {
        this.statsDirty = true; // speakers come and go with gateway messages
        post({ t: 'message', id, message });
      }),
    );
    subs.push(conn.ping$.subscribe((rttMs) => post({ t: 'ping', id, rttMs })));
    subs.push(conn.dave$.subscribe((state) => post({ t: 'dave', id, state: { ...state } })));
  }

  setReceive(on: boolean): void {
    if (on && !this.receive) {
      const { id } = this;
      this.receive = this.conn.speakers$.subscribe((speaker) => {
        this.statsDirty = true;
        post({ t: 'speaker', id, userId: speaker.userId, ssrc: speaker.ssrc });
        const sub = speaker.packets$.subscribe({
          next: (p) => {
            const rx = this.rx;
            rx.ssrc.push(p.ssrc);
            rx.sequence.push(p.sequence);
            rx.timestamp.push(p.timestamp);
            rx.receivedAt.push(p.receivedAt);
            rx.payload.push(p.payload);
            this.statsDirty = true;
            wake();
          },
          complete: () => {
            this.statsDirty = true;
            post({ t: 'speaker-end', id, ssrc: speaker.ssrc });
          },
        });
        this.receive?.add(sub);
      });
    } else if (!on && this.receive) {
      this.receive.unsubscribe();
      this.receive = null;
    }
  }

  /** Sends the received packets of this turn, and the receive counters if something moved them (else the interval sends them). */
  flushReceive(): void {
    const rx = this.rx;
    if (rx.payload.length > 0) {
      const { data, lengths } = packBytes(rx.payload);
      outbox.push({ t: 'packets', id: this.id, ssrc: rx.ssrc, sequence: rx.sequence, timestamp: rx.timestamp, receivedAt: rx.receivedAt, lengths, data });
      transfers.push(data);
      this.rx.ssrc = [];
      this.rx.sequence = [];
      this.rx.timestamp = [];
      this.rx.receivedAt = [];
      this.rx.payload = [];
    }
    if (this.statsDirty) this.pushStats();
  }

  /** Sends the receive counters when they changed since the last time. */
  pushStats(): void {
    const stats: ReceiveStats = this.conn.receiveStats();
    this.statsDirty = false;
    const last = this.lastStats;
    if (last && sameStats(last, stats)) return;
    this.lastStats = stats;
    outbox.push({ t: 'stats', id: this.id, stats });
  }

  dispose(): void {
    this.receive?.unsubscribe();
    for (const s of this.subs) s.unsubscribe();
  }
}

function sameStats(a: ReceiveStats, b: ReceiveStats): boolean {
  return (
    a.packets === b.packets &&
    a.malformed === b.malformed &&
    a.keepAlives === b.keepAlives &&
    a.ignored === b.ignored &&
    a.unknownSsrc === b.unknownSsrc &&
    a.decryptFailures === b.decryptFailures &&
    a.trackedSsrcs === b.trackedSsrcs
  );
}

const conns = new Map<number, HostedConnection>();
/** How often the receive counters are sent when they changed, ms (reading them per turn cost ~4 % of a driver thread at N=100). */
const STATS_MS = 250;
setInterval(() => {
  if (conns.size === 0) return;
  for (const c of conns.values()) c.pushStats();
  wake();
}, STATS_MS).unref();

// ---- send sessions ----
/** Thrown into the session when the main thread's input failed (the main thread holds the real error). */
const FEED_FAILED = new RxVoiceError('CONNECTION_CLOSED', 'the input failed');

/** The packets the main thread handed over, played by `playFeed` on this thread's clock. */
class RemoteFeed implements PacketFeed {
  readonly queue = new PacketQueue();
  gen = 0;
  final = false;
  failed = false;
  taken = 0;
  constructor(private readonly onTake: () => void) {}
  start(): void {}
  peek(): OpusPacket | undefined {
    return this.queue.peek();
  }
  shift(): OpusPacket | undefined {
    const p = this.queue.shift();
    if (p) {
      this.taken++;
      this.onTake();
    }
    return p;
  }
  get ended(): boolean {
    return this.final && this.queue.length === 0;
  }
  get error(): unknown {
    return this.failed && this.ended ? FEED_FAILED : null;
  }
  get bufferedMs(): number {
    return this.queue.length * FRAME_MS;
  }
  get droppedFrames(): number {
    return 0;
  }
  ahead(): { packets: OpusPacket[]; final: boolean } {
    return { packets: [], final: this.final }; // a driver thread's feed is not read ahead again
  }
  reset(gen: number): void {
    this.queue.clear();
    this.gen = gen;
    this.final = false;
    this.failed = false;
    this.taken = 0;
  }
  seek(): void {
    // the generation (and the queue) changes with the `sink-command` that carried the seek
  }
  stop(): void {
    this.queue.clear();
  }
  dispose(): void {
    this.queue.clear();
  }
}

class HostedSink {
  readonly feed: RemoteFeed;
  readonly control: PlaybackControl = createPlaybackControl();
  private progress: PlaybackProgress | null = null;
  private dirty = false;
  private sub: Subscription | null = null;
  private ended = false;

  constructor(
    readonly sink: number,
    conn: VoiceConnection,
    options: { silenceFrames?: number; speakingFlags?: number; progressEveryMs?: number; frameMs?: number },
  ) {
    this.feed = new RemoteFeed(() => this.touch());
    const { frameMs, silenceFrames, speakingFlags, progressEveryMs } = options;
    const clock = frameMs !== undefined && frameMs !== FRAME_MS ? createHighResolutionClock({ frameMs }) : undefined;
    this.sub = playFeed(conn, () => this.feed, { silenceFrames, speakingFlags, progressEveryMs, clock, control: this.control }).subscribe({
      next: (p) => {
        this.progress = p;
        this.touch();
      },
      error: (err: unknown) => this.end(err),
      complete: () => this.end(null),
    });
  }

  private touch(): void {
    this.dirty = true;
    wake();
  }

  /**
   * Tells the main thread what the session sent this turn (and its progress, if it emitted
   * any): a `sink-progress` event when there is progress (or `full`), else an entry in the
   * turn's compact `taken` event. Every turn in which packets were sent, so that demand on
   * the main thread moves smoothly (reporting only every 5 packets made transcoding
   * sources produce in bursts, which cost more pacing than it saved CPU).
   */
  report(full = false): void {
    if (!this.dirty) return;
    this.dirty = false;
    const f = this.feed;
    if (this.progress === null && !full) {
      if (f.taken > 0) {
        takenSinks.push(this.sink);
        takenGens.push(f.gen);
        takenCounts.push(f.taken);
      }
    } else {
      outbox.push({ t: 'sink-progress', sink: this.sink, gen: f.gen, taken: f.taken, progress: this.progress });
    }
    f.taken = 0;
    this.progress = null;
  }

  private end(err: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.report(true); // before its sink-end, in the same batch
    sinks.delete(this.sink);
    post({ t: 'sink-end', sink: this.sink, feedFailed: err === FEED_FAILED, error: err && err !== FEED_FAILED ? plainError(err) : null });
  }

  close(): void {
    this.ended = true;
    sinks.delete(this.sink);
    this.sub?.unsubscribe();
  }
}

const sinks = new Map<number, HostedSink>();
const takenSinks: number[] = [];
const takenGens: number[] = [];
const takenCounts: number[] = [];

/** Every sink's report of this turn; the counts of those without progress in one `taken` event. */
function reportSinks(): void {
  for (const s of sinks.values()) s.report();
  if (takenSinks.length === 0) return;
  outbox.push({ t: 'taken', sinks: Int32Array.from(takenSinks), gens: Int32Array.from(takenGens), counts: Int32Array.from(takenCounts) });
  takenSinks.length = 0;
  takenGens.length = 0;
  takenCounts.length = 0;
}

const handle = (cmd: DriverCommand): void => {
  switch (cmd.t) {
    case 'connect': {
      const { log, ...options } = cmd.options;
      const id = cmd.id;
      try {
        const conn = connectVoiceInProcess({
          ...options,
          logger: log ? (e) => post({ t: 'log', id, level: e.level, message: e.message, data: e.data }) : undefined,
        });
        conns.set(id, new HostedConnection(id, conn));
      } catch (err) {
        const e = plainError(err);
        post({ t: 'state', id, state: { status: 'disconnected', endpoint: options.endpoint, error: { code: 'BAD_OPTIONS', message: e.message, closeCode: null } } });
      }
      return;
    }
    case 'update-server':
      conns.get(cmd.id)?.conn.updateServer({ endpoint: cmd.endpoint, token: cmd.token });
      return;
    case 'update-session':
      conns.get(cmd.id)?.conn.updateSession({ sessionId: cmd.sessionId, channelId: cmd.channelId });
      return;
    case 'rejoin':
      conns.get(cmd.id)?.conn.rejoin();
      return;
    case 'destroy': {
      const h = conns.get(cmd.id);
      if (!h) return;
      h.conn.destroy();
      h.flushReceive();
      h.dispose();
      conns.delete(cmd.id);
      return;
    }
    case 'set-speaking':
      conns.get(cmd.id)?.conn.setSpeaking(cmd.flags);
      return;
    case 'verify': {
      const h = conns.get(cmd.id);
      const { req, id } = cmd;
      if (!h) {
        post({ t: 'verify', id, req, error: { code: 'NOT_CONNECTED', message: 'the connection is gone' } });
        return;
      }
      h.conn.verificationCode(cmd.userId).then(
        (code) => post({ t: 'verify', id, req, code }),
        (err: unknown) => post({ t: 'verify', id, req, error: plainError(err) }),
      );
      return;
    }
    case 'receive':
      conns.get(cmd.id)?.setReceive(cmd.on);
      return;
    case 'udp-send': {
      const t = conns.get(cmd.id)?.conn.transport;
      if (t) for (const d of unpackBytes(cmd.data, cmd.lengths)) t.udp.send(d);
      return;
    }
    case 'sink-open': {
      const h = conns.get(cmd.id);
      if (!h) {
        post({ t: 'sink-end', sink: cmd.sink, feedFailed: false, error: { code: 'CONNECTION_CLOSED', message: 'the voice connection is gone' } });
        return;
      }
      sinks.set(cmd.sink, new HostedSink(cmd.sink, h.conn, cmd));
      return;
    }
    case 'sink-push': {
      const s = sinks.get(cmd.sink);
      if (!s || s.feed.gen !== cmd.gen) return;
      for (const p of unpackBytes(cmd.data, cmd.lengths)) s.feed.queue.push(p);
      s.feed.final = cmd.final;
      s.feed.failed = cmd.failed;
      return;
    }
    case 'sink-reset':
      sinks.get(cmd.sink)?.feed.reset(cmd.gen);
      return;
    case 'sink-command': {
      const s = sinks.get(cmd.sink);
      if (!s) return;
      if (cmd.command.type === 'seek') s.feed.reset(cmd.gen);
      dispatchCommand(s.control, cmd.command);
      return;
    }
    case 'sink-close':
      sinks.get(cmd.sink)?.close();
      return;
    case 'clock-stats':
      post({ t: 'clock-stats', req: cmd.req, counts: readTickLateness() });
      return;
  }
};

function dispatchCommand(control: PlaybackControl, command: PlaybackCommand): void {
  switch (command.type) {
    case 'pause':
      control.pause();
      return;
    case 'resume':
      control.resume();
      return;
    case 'stop':
      control.stop();
      return;
    case 'seek':
      control.seek(command.positionMs);
      return;
  }
}

port.on('message', (batch: DriverCommand[]) => {
  for (const cmd of batch) {
    try {
      handle(cmd);
    } catch (err) {
      process.emitWarning(`rxvoice driver: command ${cmd.t} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
});

port.postMessage({ t: 'hello', timeOrigin: performance.timeOrigin });
