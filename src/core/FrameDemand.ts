import { Subject, type Observable, type Subscriber, type Subscription } from 'rxjs';
import { FRAME_MS } from './audioFormat';

/**
 * Backpressure for audio observables. RxJS pushes and has no demand signal, so rxvoice
 * passes one *beside* the stream: a consumer that plays or writes in real time (a sink)
 * owns a {@link SinkDemand}; a source owns a {@link DemandGate} and produces only while
 * its gate is open.
 *
 * A source finds its consumer's demand in two ways, so that it works however it is
 * composed:
 *
 * - **At subscribe**: a sink subscribes upstream inside {@link withDemand}; a source
 *   subscribed synchronously from there (through `map`, `opusEncode`, `volume` …) finds
 *   the demand at once.
 * - **At its first frame**: a source subscribed later — the second input of `concat`, every
 *   inner source of `concatMap`/`mergeMap`/`switchMap` over a queue `Subject`, `defer`,
 *   `repeat`, a source created long after the sink — emits through its gate
 *   ({@link DemandGate.emit}); the frame travels synchronously down to the sink, which
 *   counts it ({@link SinkDemand.received}) and thereby attaches its demand to the gate
 *   that is emitting. From then on the source produces only while the sink holds less than
 *   `leadMs` of audio. Before that it has read at most one input chunk.
 *
 * `opusEncode` on codec threads delivers its packets later but carries demand across
 * (see {@link currentEmitter}). Only an operator that moves frames to another tick
 * (`observeOn`, `delay`, `bufferTime`) breaks both paths; the sink then sees frames with no source behind them, keeps them, and
 * warns once.
 */
export interface FrameDemand {
  /** Whether the consumer wants more audio now. */
  readonly open: boolean;
  /** Emits when `open` may have become true (the consumer took audio, or was flushed). */
  readonly changes$: Observable<void>;
  /** Seek requests (ms from the start of the input) for sources that can seek. */
  readonly seek$: Observable<number>;
  /** Audio the consumer holds and has not played yet, ms, where it knows (sinks do). */
  readonly bufferedMs?: number;
  /** How much audio the consumer lets sources produce ahead, ms, where it knows (sinks do). */
  readonly leadMs?: number;
}

/** The gate whose `emit` is delivering a frame right now (innermost first), or null. */
let emitting: DemandGate | null = null;

/**
 * The demand of a consumer that buffers what it receives and takes it away in real time
 * (a sink). It is open while less than `leadMs` of audio is buffered.
 */
export class SinkDemand implements FrameDemand {
  private buffered = 0;
  private closedFlag = false;
  private readonly changes = new Subject<void>();
  private readonly seeks = new Subject<number>();
  readonly changes$ = this.changes.asObservable();
  readonly seek$ = this.seeks.asObservable();

  /** @param leadMs how much audio sources may produce ahead of the consumer, ms. Default 1000. */
  constructor(readonly leadMs = 1000) {}

  /** Audio received and not yet consumed, ms. */
  get bufferedMs(): number {
    return this.buffered;
  }

  get open(): boolean {
    return this.buffered < this.leadMs;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * The consumer received `ms` of audio (call it from `next`). Also attaches this demand to
   * the source whose frame this is, if it was emitted through a {@link DemandGate}.
   * Returns whether a gate was found (false: the frame came from a source without demand).
   */
  received(ms = FRAME_MS): boolean {
    this.buffered += ms;
    return claimEmitter(this);
  }

  /** The consumer played or wrote `ms` of audio (default one frame). */
  consume(ms = FRAME_MS): void {
    this.buffered = Math.max(0, this.buffered - ms);
    this.changes.next();
  }

  /** The consumer dropped everything it held (seek, skip). */
  clear(): void {
    this.buffered = 0;
    this.changes.next();
  }

  /** Wake sources without a change in what is buffered. */
  wake(): void {
    this.changes.next();
  }

  /** Ask seekable sources to continue from `ms`. */
  seek(ms: number): void {
    this.seeks.next(ms);
  }

  /** The consumer is gone: gates let go of this demand. */
  complete(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.changes.complete();
    this.seeks.complete();
  }
}

/**
 * Attaches `demand` to the gate whose frame is being delivered right now (call it from a
 * consumer's `next`). Returns false when the frame did not come through a
 * {@link DemandGate} (a source without demand, or an asynchronous operator in between).
 */
export function claimEmitter(demand: FrameDemand): boolean {
  if (emitting === null) return false;
  emitting.attach(demand);
  return true;
}

/**
 * The gate whose {@link DemandGate.emit} is delivering a frame right now, or null. For
 * operators that deliver a frame's result later (on another turn of the event loop, e.g.
 * `opusEncode` on a codec thread): capture it when the frame arrives, and deliver the
 * result inside {@link emitAs} so that the consumer still finds the source.
 * @internal
 */
export function currentEmitter(): DemandGate | null {
  return emitting;
}

/**
 * Runs `deliver` (typically `subscriber.next(value)`) with `gate` as the emitting gate
 * (null: none), as {@link DemandGate.emit} does.
 * @internal
 */
export function emitAs<T>(gate: DemandGate | null, deliver: () => T): T {
  const previous = emitting;
  emitting = gate;
  try {
    return deliver();
  } finally {
    emitting = previous;
  }
}

let current: FrameDemand | null = null;

/** Runs `subscribe` (typically `source.subscribe(...)`) with `demand` as the current demand. */
export function withDemand<T>(demand: FrameDemand | null, subscribe: () => T): T {
  const previous = current;
  current = demand;
  try {
    return subscribe();
  } finally {
    current = previous;
  }
}

/** The demand of the consumer whose subscribe is running, or null. Sources call this in their subscribe function. */
export function currentDemand(): FrameDemand | null {
  return current;
}

/**
 * A source's side of demand: the consumers' demands it has found (at subscribe, or when
 * a consumer counted one of its frames), merged into one.
 *
 * - `open`: true while every attached demand is open (and while there is none: a source
 *   with no consumer found yet reads freely).
 * - `changes$` / `seek$`: those of every attached demand, merged; they complete with the
 *   gate.
 * - `emit(subscriber, value)`: delivers a frame so that the consumer can find this gate.
 *
 * A gate is itself a {@link FrameDemand}: a composite source (one that runs an inner
 * source, like `ffmpegSource` restarting ffmpeg on seek, or `mix`) subscribes its inner
 * sources inside `withDemand(gate, …)` and emits their frames through its own gate.
 *
 * @example
 * ```ts
 * // A demand-aware source of `frames` (an array of 20 ms frames).
 * new Observable<Buffer>((subscriber) => {
 *   const gate = new DemandGate(subscriber);
 *   let i = 0;
 *   const pump = () => {
 *     while (!subscriber.closed && i < frames.length && gate.open) gate.emit(subscriber, frames[i++]);
 *     if (i === frames.length) subscriber.complete();
 *   };
 *   gate.changes$.subscribe(pump);
 *   pump();
 * });
 * ```
 */
export class DemandGate implements FrameDemand {
  private readonly attached = new Map<FrameDemand, Subscription>();
  /** The attached demands as an array: `open` is read per frame, without an iterator. */
  private demands: FrameDemand[] = [];
  private readonly changes = new Subject<void>();
  private readonly seeks = new Subject<number>();
  private disposed = false;
  readonly changes$ = this.changes.asObservable();
  readonly seek$ = this.seeks.asObservable();

  /**
   * @param owner the source's subscriber: the gate is disposed when it is torn down.
   * @param demand the consumer's demand if known; default {@link currentDemand}`()`.
   */
  constructor(owner: Subscriber<never> | Subscriber<unknown> | null = null, demand: FrameDemand | null = currentDemand()) {
    if (demand) this.attach(demand);
    owner?.add(() => this.dispose());
  }

  get open(): boolean {
    const demands = this.demands;
    for (let i = 0; i < demands.length; i++) if (!demands[i].open) return false;
    return true;
  }

  /** The least audio any attached consumer holds, ms (undefined: none says). */
  get bufferedMs(): number | undefined {
    let least: number | undefined;
    for (const demand of this.demands) {
      const b = demand.bufferedMs;
      if (b !== undefined && (least === undefined || b < least)) least = b;
    }
    return least;
  }

  /** The least lead any attached consumer allows, ms (undefined: none says). */
  get leadMs(): number | undefined {
    let least: number | undefined;
    for (const demand of this.demands) {
      const l = demand.leadMs;
      if (l !== undefined && (least === undefined || l < least)) least = l;
    }
    return least;
  }

  /** Follow `demand` too (idempotent). A completed demand is let go. */
  attach(demand: FrameDemand): void {
    // Called for every frame a sink receives: the common case (already attached) must be cheap.
    if (this.demands.length === 1 && this.demands[0] === demand) return;
    if (this.disposed || demand === this || this.attached.has(demand)) return;
    const sub = demand.changes$.subscribe({
      next: () => this.changes.next(),
      // The consumer is gone (its source is being unsubscribed): let go, wake nobody.
      complete: () => {
        this.attached.get(demand)?.unsubscribe();
        this.attached.delete(demand);
        this.demands = [...this.attached.keys()];
      },
    });
    if (sub.closed) return; // already complete
    sub.add(demand.seek$.subscribe((ms) => this.seeks.next(ms)));
    this.attached.set(demand, sub);
    this.demands = [...this.attached.keys()];
  }

  /** `subscriber.next(value)`, with this gate as the emitting gate while the frame travels downstream. */
  emit<T>(subscriber: Subscriber<T>, value: T): void {
    const previous = emitting;
    emitting = this;
    try {
      subscriber.next(value);
    } finally {
      emitting = previous;
    }
  }

  /** Let go of every demand; `changes$` and `seek$` complete. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const sub of this.attached.values()) sub.unsubscribe();
    this.attached.clear();
    this.demands = [];
    this.changes.complete();
    this.seeks.complete();
  }
}
