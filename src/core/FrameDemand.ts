import { Subject, type Observable } from 'rxjs';
import { FRAME_MS } from './audioFormat';

/**
 * Backpressure for audio observables. RxJS has no demand signal, so rxvoice passes one
 * *beside* the stream: a sink that consumes in real time (the voice sink, a file sink)
 * creates a `FrameDemand` and subscribes to its upstream inside {@link withDemand}. The
 * subscribe call travels synchronously up through every ordinary operator (`map`,
 * `opusEncode`, `volume`, …) to the source, which picks the demand up with
 * {@link currentDemand} and then produces at most `leadMs` of audio ahead of what the
 * sink has consumed — pausing its Node stream or child process when it is that far ahead
 * and resuming on `changes$`. Memory stays bounded to about `leadMs` of audio per source,
 * however long the input.
 *
 * Sources subscribed later (e.g. the second source of `concat`) are not inside the
 * synchronous subscribe; operators that subscribe later must capture `currentDemand()` at
 * their own subscribe time and re-enter it with `withDemand` (rxvoice's `mix` and
 * `playlist` do). A source that finds no demand reads as fast as its input allows.
 */
export interface FrameDemand {
  /** Audio the consumer has taken so far, ms. */
  readonly consumedMs: number;
  /** How far ahead of `consumedMs` a source may produce, ms. */
  readonly leadMs: number;
  /** Emits when `consumedMs` advances or the consumer wants data again. */
  readonly changes$: Observable<void>;
  /** Seek requests (ms from the start of the input) for sources that can seek. */
  readonly seek$: Observable<number>;
}

/** The demand a sink owns and advances. */
export class SinkDemand implements FrameDemand {
  private consumed = 0;
  private readonly changes = new Subject<void>();
  private readonly seeks = new Subject<number>();
  readonly changes$ = this.changes.asObservable();
  readonly seek$ = this.seeks.asObservable();

  constructor(readonly leadMs = 1000) {}

  get consumedMs(): number {
    return this.consumed;
  }

  /** The sink took `ms` of audio (default one frame). */
  consume(ms = FRAME_MS): void {
    this.consumed += ms;
    this.changes.next();
  }

  /** Wake sources (e.g. after the sink's queue was flushed). */
  wake(): void {
    this.changes.next();
  }

  /** Ask seekable sources to continue from `ms`. */
  seek(ms: number): void {
    this.seeks.next(ms);
  }

  complete(): void {
    this.changes.complete();
    this.seeks.complete();
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

/** The demand of the sink whose subscribe is running, or null. Sources call this in their subscribe function. */
export function currentDemand(): FrameDemand | null {
  return current;
}

/**
 * A source's view of a demand: counts what it produced and says whether it may produce
 * more. `base` is the consumer's position when the source started, so a source that
 * starts mid-stream (after a seek, or as the next track) gets its own full lead.
 */
export class DemandGate {
  private producedMs = 0;
  private base: number;

  constructor(private readonly demand: FrameDemand | null) {
    this.base = demand?.consumedMs ?? 0;
  }

  /** Record `ms` of produced audio (default one frame). */
  produced(ms = FRAME_MS): void {
    this.producedMs += ms;
  }

  /** Whether the source may produce now. Always true without a demand. */
  get open(): boolean {
    if (!this.demand) return true;
    return this.producedMs - (this.demand.consumedMs - this.base) < this.demand.leadMs;
  }

  /** Restart counting from the consumer's current position (after a seek). */
  reset(): void {
    this.producedMs = 0;
    this.base = this.demand?.consumedMs ?? 0;
  }
}
