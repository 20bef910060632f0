import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { voiceDriverThreads } from '../configureVoiceDriver';
import type { DriverCommand, DriverEvent, DriverHello } from './messages';
import { startWorker } from './startWorker';

/** What a driver thread's events are routed to on the main thread. */
export interface DriverClient {
  onEvent(event: DriverEvent): void;
  /** A sink's session sent `count` packets of generation `gen` (the `taken` event; sinks only). */
  onTaken?(gen: number, count: number): void;
  /** The thread died: end with a typed error. */
  onCrash(error: Error): void;
}

/**
 * One driver thread as the main thread sees it: a command outbox flushed once per
 * microtask checkpoint, event routing to connections (`id`) and sinks (`sink`), and
 * `ref()` only while it has connections.
 */
/**
 * A driver thread's young generation, MB. Its live data is small (connections, a second of
 * packets per sink) and its garbage is per-packet: a small nursery gives short, frequent
 * scavenges (shorter pauses inside a tick) and less RSS than V8's default.
 */
const DRIVER_YOUNG_GENERATION_MB = 8;

export class DriverThread {
  /** `performance.now()` on the thread minus on the main thread, ms (its receive times → ours). */
  clockOffsetMs = 0;
  alive = true;
  private readonly worker: Worker;
  private outbox: DriverCommand[] = [];
  private transfers: ArrayBuffer[] = [];
  private flushScheduled = false;
  readonly connections = new Map<number, DriverClient>();
  readonly sinks = new Map<number, DriverClient>();
  private readonly clockRequests = new Map<number, (counts: Float64Array | null) => void>();
  private nextClockRequest = 1;

  constructor(
    readonly index: number,
    private readonly onDeath: (thread: DriverThread) => void,
  ) {
    this.worker = startWorker('driver/internal/driverWorker', { index }, { maxYoungGenerationSizeMb: DRIVER_YOUNG_GENERATION_MB });
    this.worker.on('message', (batch: DriverEvent[] | DriverHello) => {
      if (!Array.isArray(batch)) {
        if (batch.t === 'hello') this.clockOffsetMs = batch.timeOrigin - performance.timeOrigin;
        return;
      }
      for (const event of batch) this.route(event);
    });
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('exit', (code) => this.die(new Error(`the driver thread exited (code ${code})`)));
  }

  private route(event: DriverEvent): void {
    if (event.t === 'clock-stats') {
      const resolve = this.clockRequests.get(event.req);
      this.clockRequests.delete(event.req);
      resolve?.(event.counts);
      return;
    }
    if (event.t === 'taken') {
      const { sinks, gens, counts } = event;
      for (let i = 0; i < sinks.length; i++) {
        const sink = this.sinks.get(sinks[i]);
        try {
          sink?.onTaken?.(gens[i], counts[i]);
        } catch (err) {
          process.emitWarning(`rxvoice driver: handling taken failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return;
    }
    const target = 'sink' in event ? this.sinks.get(event.sink) : 'id' in event ? this.connections.get(event.id) : undefined;
    if (!target) return;
    try {
      target.onEvent(event);
    } catch (err) {
      process.emitWarning(`rxvoice driver: handling ${event.t} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private die(err: Error): void {
    if (!this.alive) return;
    this.alive = false;
    for (const resolve of this.clockRequests.values()) resolve(null);
    this.clockRequests.clear();
    this.onDeath(this);
    const clients = [...this.sinks.values(), ...this.connections.values()];
    this.sinks.clear();
    this.connections.clear();
    for (const c of clients) c.onCrash(err);
  }

  /** Queues a command; every command of this turn leaves in one `postMessage`. */
  post(command: DriverCommand, transfer?: ArrayBuffer): void {
    if (!this.alive) return;
    this.outbox.push(command);
    if (transfer) this.transfers.push(transfer);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.alive || this.outbox.length === 0) return;
    const batch = this.outbox;
    const list = this.transfers;
    this.outbox = [];
    this.transfers = [];
    this.worker.postMessage(batch, list);
  };

  addConnection(id: number, client: DriverClient): void {
    this.connections.set(id, client);
    if (this.connections.size === 1) this.worker.ref();
  }

  removeConnection(id: number): void {
    if (this.connections.delete(id) && this.connections.size === 0) this.worker.unref();
  }

  /**
   * The thread's cumulative tick-lateness histogram (core/sendLateness), or null if the
   * thread is dead or does not answer within `timeoutMs`.
   */
  readLateness(timeoutMs = 1000): Promise<Float64Array | null> {
    if (!this.alive) return Promise.resolve(null);
    const req = this.nextClockRequest++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.clockRequests.delete(req);
        resolve(null);
      }, timeoutMs);
      timer.unref();
      this.clockRequests.set(req, (counts) => {
        clearTimeout(timer);
        resolve(counts);
      });
      this.post({ t: 'clock-stats', req });
    });
  }

  /** Kills the thread (tests: a crashed driver). */
  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

const threads: DriverThread[] = [];
let nextId = 1;

/** A fresh id for a connection or a sink (unique in the process). */
export function nextDriverId(): number {
  return nextId++;
}

/**
 * The thread for a new connection: the one with the fewest connections; a new thread while
 * there are fewer than `voiceDriverThreads()`.
 */
export function pickDriverThread(): DriverThread {
  const max = Math.max(1, voiceDriverThreads());
  const alive = threads.filter((t) => t.alive);
  const least = alive.reduce<DriverThread | null>((best, t) => (!best || t.connections.size < best.connections.size ? t : best), null);
  if (least && (least.connections.size === 0 || alive.length >= max)) return least;
  const index = threads.length;
  const thread = new DriverThread(index, (dead) => {
    const i = threads.indexOf(dead);
    if (i >= 0) threads.splice(i, 1);
  });
  threads.push(thread);
  return thread;
}

/** The driver threads running now (tests and metrics). */
export function driverThreads(): readonly DriverThread[] {
  return threads;
}
