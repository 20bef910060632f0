import { Observable } from 'rxjs';
import type { Readable } from 'node:stream';
import { currentDemand, DemandGate, type FrameDemand } from '../../core/FrameDemand';
import type { Framer } from './Framer';

/** Options of {@link gatedStream}. */
export interface GatedStreamOptions {
  /** The demand to honour; default `currentDemand()` at subscribe. A consumer found at the first item is followed too. */
  demand?: FrameDemand | null;
  /** Turns a stream `'error'` (or a chunk the framer rejects) into the error to emit. */
  mapError: (err: unknown) => Error;
}

/**
 * Items (frames, packets) of `readable`, cut by `framer`, produced while the consumer's
 * demand is open (see `FrameDemand`).
 *
 * The stream runs in flowing mode; chunks go into the framer and items are emitted while
 * the {@link DemandGate} is open. When the gate closes with an item left, the stream is
 * `pause()`d — so the OS pipe / file read stalls and the producer (ffmpeg, a demuxer)
 * blocks — and `changes$` drains and `resume()`s it. Emission is exact: the gate is
 * checked before every item, however large the stream's chunks.
 * A consumer that calls `demand.consume()` synchronously from `next` re-enters nothing:
 * the drain loop is iterative.
 *
 * Completes when the stream has ended and every item (with the zero-padded tail) was
 * emitted. Errors with `mapError(err)` on a stream `'error'`, a rejected chunk, or the framer's
 * `failure()` (after the items before it).
 * Unsubscribing removes every listener it added and pauses the stream; it does NOT
 * destroy it (the owner does, after leaving a no-op `'error'` listener if needed).
 */
export function gatedStream<T>(readable: Readable, framer: Framer<T>, options: GatedStreamOptions): Observable<T> {
  return new Observable<T>((subscriber) => {
    const gate = new DemandGate(subscriber, options.demand === undefined ? currentDemand() : options.demand);
    let ended = false;
    let draining = false;

    const drain = (): void => {
      if (draining) return; // re-entered from a synchronous consume(): the running loop re-checks the gate
      draining = true;
      try {
        while (!subscriber.closed && gate.open && framer.available()) {
          gate.emit(subscriber, framer.read());
        }
      } finally {
        draining = false;
      }
      if (subscriber.closed) return;
      if (framer.available()) {
        readable.pause();
        return;
      }
      const failure = framer.failure?.();
      if (failure !== null && failure !== undefined) subscriber.error(options.mapError(failure));
      else if (ended) subscriber.complete();
      else readable.resume();
    };

    const onData = (chunk: unknown): void => {
      try {
        framer.write(chunk);
      } catch (err) {
        subscriber.error(options.mapError(err));
        return;
      }
      drain();
    };
    const onEnd = (): void => {
      ended = true;
      framer.end();
      drain();
    };
    const onError = (err: unknown): void => subscriber.error(options.mapError(err));

    const changes = gate.changes$.subscribe(() => drain());
    readable.on('error', onError);
    readable.on('end', onEnd);
    readable.on('data', onData);

    return () => {
      changes.unsubscribe();
      readable.off('data', onData);
      readable.off('end', onEnd);
      readable.off('error', onError);
      readable.pause();
    };
  });
}
