import type { Worker } from 'node:worker_threads';
import { RxVoiceError } from '../../errors';
import type { OpusEncoderSettings } from '../../operators/internal/opusEncoderSettings';
import { voiceDriverThreads } from '../configureVoiceDriver';
import { CONTROL_BUSY, CONTROL_STOP, CONTROL_WORDS, type CodecBatch, type CodecOp, type CodecResult } from './codecProtocol';
import { startWorker } from './startWorker';

/** What a codec thread reports for one encoder. Called on the main thread, in frame order. */
export interface CodecEncoderListener {
  /** Packets of the next frames posted, in order (views into one `ArrayBuffer` per batch). */
  packets(packets: Buffer[]): void;
  /** The encoder is gone (libopus failed, or its thread died): no more packets will come. */
  failed(error: RxVoiceError): void;
}

/** One encoder on a codec thread, as its stream on the main thread sees it. */
export interface CodecEncoder {
  /** Posts PCM frames (3840-byte `ArrayBuffer`s, transferred) in this turn's batch. */
  encode(frames: ArrayBuffer[]): void;
  /** Frees the encoder on its thread; later results for it are dropped. Idempotent. */
  close(): void;
}

/** Pool counters (tests, benchmarks). */
export interface CodecPoolStats {
  /** Codec threads running. */
  threads: number;
  /** Encoders open on them (as the main thread counts them). */
  encoders: number;
  /** Frames posted and not yet answered, over all threads. */
  inFlightFrames: number;
}

interface Stream {
  readonly listener: CodecEncoderListener;
  inFlight: number;
}

let nextId = 1;

/** One codec worker thread and its encoders. */
class CodecThread {
  readonly streams = new Map<number, Stream>();
  dead = false;
  /** The thread has loaded its modules (from the TypeScript sources that takes ~1 s). */
  ready = false;
  private items: CodecOp[] = [];
  private transfer: ArrayBuffer[] = [];
  /** This turn's `enc` op per encoder, so that a stream's frames of one turn go in one op. */
  private encOps = new Map<number, Extract<CodecOp, { t: 'enc' }>>();
  /** Frames and stats requests not yet answered: the thread is ref()'d while there are any. */
  private outstanding = 0;
  private refd = false;
  private readonly statsWaiters = new Map<number, (encoders: number) => void>();
  private nextReq = 1;

  constructor(
    readonly worker: Worker,
    private readonly control: Int32Array,
    private readonly schedule: (thread: CodecThread) => void,
    private readonly onDeath: (thread: CodecThread) => void,
    private readonly onReady: () => void,
  ) {
    worker.on('message', (batch: CodecBatch<CodecResult>) => this.receive(batch));
    worker.on('error', (err) => this.die(`failed: ${err instanceof Error ? err.message : String(err)}`, err));
    worker.on('messageerror', (err) => this.die(`sent a message that could not be read: ${err.message}`, err));
    worker.on('exit', (code) => this.die(`exited (code ${code})`));
    // A 'message' listener refs the worker's port again: unref after attaching (ref()'d only
    // while frames are in flight, see updateRef).
    worker.unref();
  }

  get load(): number {
    return this.streams.size;
  }

  get inFlightFrames(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.inFlight;
    return n;
  }

  open(settings: OpusEncoderSettings, listener: CodecEncoderListener, prime: ArrayBuffer[]): CodecEncoder {
    const id = nextId++;
    const stream: Stream = { listener, inFlight: 0 };
    this.streams.set(id, stream);
    this.push({ t: 'open', id, settings, prime });
    for (const f of prime) this.transfer.push(f);
    return {
      encode: (frames) => {
        if (this.streams.get(id) !== stream || frames.length === 0) return;
        stream.inFlight += frames.length;
        this.outstanding += frames.length;
        this.updateRef();
        let op = this.encOps.get(id);
        if (!op) {
          op = { t: 'enc', id, frames: [] };
          this.encOps.set(id, op);
          this.push(op);
        }
        for (const f of frames) {
          op.frames.push(f);
          this.transfer.push(f);
        }
      },
      close: () => {
        if (this.streams.get(id) !== stream) return;
        this.forget(id, stream);
        if (!this.dead) this.push({ t: 'close', id });
      },
    };
  }

  /** The number of encoders the thread itself holds. */
  encodersOnThread(): Promise<number> {
    if (this.dead) return Promise.resolve(0);
    const req = this.nextReq++;
    this.outstanding++;
    this.updateRef();
    this.push({ t: 'stats', req });
    return new Promise((resolve) => this.statsWaiters.set(req, resolve));
  }

  flush(): void {
    if (this.dead || this.items.length === 0) return;
    const items = this.items;
    const transfer = this.transfer;
    this.items = [];
    this.transfer = [];
    this.encOps.clear();
    try {
      this.worker.postMessage({ items } satisfies CodecBatch<CodecOp>, transfer);
    } catch (err) {
      this.die(`could not be posted to: ${err instanceof Error ? err.message : String(err)}`, err);
    }
  }

  /**
   * Parks the thread outside libopus (waits up to `timeoutMs` for the frame it is encoding),
   * so that it can be terminated safely (see `CONTROL_STOP`). Synchronous: also used at exit.
   */
  park(timeoutMs = 500): void {
    Atomics.store(this.control, CONTROL_STOP, 1);
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(this.control, CONTROL_BUSY) !== 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      Atomics.wait(this.control, CONTROL_BUSY, 1, left);
    }
  }

  /** Stops the thread (its streams error with `OPUS_ENCODER_FAILED`). */
  async terminate(): Promise<void> {
    this.park();
    await this.worker.terminate();
  }

  private push(op: CodecOp): void {
    if (this.dead) return;
    this.items.push(op);
    this.schedule(this);
  }

  private receive(batch: CodecBatch<CodecResult>): void {
    for (const result of batch.items) {
      if (result.t === 'ready') {
        this.ready = true;
        this.onReady();
        continue;
      }
      if (result.t === 'stats') {
        this.outstanding--;
        const resolve = this.statsWaiters.get(result.req);
        this.statsWaiters.delete(result.req);
        resolve?.(result.encoders);
        continue;
      }
      const stream = this.streams.get(result.id);
      if (!stream) continue; // closed meanwhile (its frames were counted off at close)
      if (result.t === 'packets') {
        const n = result.lengths.length;
        stream.inFlight -= n;
        this.outstanding -= n;
        const packets: Buffer[] = new Array<Buffer>(n);
        let offset = 0;
        for (let i = 0; i < n; i++) {
          const length = result.lengths[i];
          packets[i] = Buffer.from(result.data, offset, length);
          offset += length;
        }
        stream.listener.packets(packets);
      } else {
        this.forget(result.id, stream);
        const what = result.phase === 'open' ? 'could not set up the encoder' : 'libopus failed to encode';
        stream.listener.failed(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: ${what}: ${result.message}`));
      }
    }
    this.updateRef();
  }

  private forget(id: number, stream: Stream): void {
    this.streams.delete(id);
    this.outstanding -= stream.inFlight;
    stream.inFlight = 0;
    this.updateRef();
  }

  private die(why: string, cause?: unknown): void {
    if (this.dead) return;
    this.dead = true;
    this.items = [];
    this.transfer = [];
    this.encOps.clear();
    this.outstanding = 0;
    this.updateRef();
    this.onDeath(this);
    if (!this.ready) this.onReady(); // no longer starting
    for (const resolve of this.statsWaiters.values()) resolve(0);
    this.statsWaiters.clear();
    const streams = [...this.streams.values()];
    this.streams.clear();
    for (const stream of streams) {
      stream.listener.failed(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: the codec thread ${why}`, { cause }));
    }
    this.park(0);
    void this.worker.terminate().catch(() => undefined);
  }

  private updateRef(): void {
    const want = this.outstanding > 0 && !this.dead;
    if (want === this.refd) return;
    this.refd = want;
    if (want) this.worker.ref();
    else this.worker.unref();
  }
}

/**
 * The codec threads of the process: worker threads running libopus encoders for
 * `opusEncode` (up to `voiceDriverThreads()` of them, started as encoders are opened).
 * Each encoder is opened on the thread with the fewest encoders. A thread is ref()'d only
 * while it has frames to answer, so an idle pool never holds the process open.
 */
export class CodecPool {
  private readonly threads: CodecThread[] = [];
  private readonly dirty = new Set<CodecThread>();
  private flushQueued = false;
  private exitHook: (() => void) | null = null;

  private readyWaiters: Array<() => void> = [];

  /**
   * Whether encoders can be opened now: every codec thread started has loaded (or died), and
   * one is running. Otherwise starts the threads (all of them at once: `voiceDriverThreads()`)
   * if none is starting, and returns false; {@link whenReady} tells when that changes.
   */
  get ready(): boolean {
    if (this.threads.length === 0) this.start(Math.max(1, voiceDriverThreads()));
    return this.threads.length > 0 && this.threads.every((t) => t.ready);
  }

  /**
   * Calls `callback` once the pool is {@link ready}, or, when every thread failed to start,
   * with false (the caller goes on without codec threads). Returns a function that cancels.
   */
  whenReady(callback: (ready: boolean) => void): () => void {
    const check = (): void => {
      if (this.threads.some((t) => !t.ready)) return; // still starting
      this.readyWaiters = this.readyWaiters.filter((w) => w !== check);
      callback(this.threads.length > 0);
    };
    this.readyWaiters.push(check);
    return () => {
      this.readyWaiters = this.readyWaiters.filter((w) => w !== check);
    };
  }

  /**
   * Opens an encoder with `settings` on the least loaded ready thread (call when
   * {@link ready}); `prime`: the stream's last frames, encoded first and their packets dropped.
   */
  open(settings: OpusEncoderSettings, listener: CodecEncoderListener, prime: ArrayBuffer[] = []): CodecEncoder {
    return this.pick().open(settings, listener, prime);
  }

  stats(): CodecPoolStats {
    let encoders = 0;
    let inFlightFrames = 0;
    for (const t of this.threads) {
      encoders += t.load;
      inFlightFrames += t.inFlightFrames;
    }
    return { threads: this.threads.length, encoders, inFlightFrames };
  }

  /** The number of encoders each running thread holds, as the threads themselves count them. */
  encodersOnThreads(): Promise<number[]> {
    return Promise.all(this.threads.map((t) => t.encodersOnThread()));
  }

  /** The running codec threads' `Worker`s (benchmarks read their `performance`). */
  workers(): Worker[] {
    return this.threads.map((t) => t.worker);
  }

  /** Terminates every codec thread (their encoders' streams error with `OPUS_ENCODER_FAILED`). */
  async terminate(): Promise<void> {
    await Promise.all([...this.threads].map((t) => t.terminate()));
  }

  private pick(): CodecThread {
    const wanted = Math.max(1, voiceDriverThreads());
    if (this.threads.length < wanted) this.start(wanted - this.threads.length);
    let best: CodecThread | null = null;
    for (const t of this.threads) if (t.ready && (best === null || t.load < best.load)) best = t;
    // Not ready: the caller did not check `ready`; the thread queues the messages meanwhile.
    return best ?? this.threads[0];
  }

  private start(count: number): void {
    for (let i = 0; i < count; i++) {
      const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * Int32Array.BYTES_PER_ELEMENT));
      if (!this.exitHook) {
        // At exit Node terminates the threads: park them outside libopus first.
        this.exitHook = () => this.threads.forEach((t) => t.park());
        process.once('exit', this.exitHook);
      }
      this.threads.push(
        new CodecThread(
          startWorker('driver/internal/codecWorker', { control: control.buffer }),
          control,
          (t) => this.schedule(t),
          (t) => this.remove(t),
          () => [...this.readyWaiters].forEach((w) => w()),
        ),
      );
    }
  }

  private schedule(thread: CodecThread): void {
    this.dirty.add(thread);
    if (this.flushQueued) return;
    this.flushQueued = true;
    // One message per thread per turn of the event loop: every frame the sources emitted
    // synchronously in this turn goes in it.
    queueMicrotask(() => {
      this.flushQueued = false;
      const threads = [...this.dirty];
      this.dirty.clear();
      for (const t of threads) t.flush();
    });
  }

  private remove(thread: CodecThread): void {
    const i = this.threads.indexOf(thread);
    if (i >= 0) this.threads.splice(i, 1);
    this.dirty.delete(thread);
  }
}

let pool: CodecPool | null = null;

/** The process's codec pool (created at first use; threads start as encoders are opened). */
export function codecPool(): CodecPool {
  pool ??= new CodecPool();
  return pool;
}
