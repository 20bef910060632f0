import { close, createWriteStream, write } from 'node:fs';
import { Observable, type Subscription } from 'rxjs';
import { RxVoiceError } from '../../errors';
import { SinkDemand, withDemand } from '../../core/FrameDemand';

/**
 * The shared engine of the file sinks (`wavFileSink`, `oggOpusFileSink`). Internal.
 *
 * It opens a `fs.WriteStream` on subscribe, writes the format's header, subscribes to the
 * upstream inside {@link withDemand} with a {@link SinkDemand}, and appends what the
 * format makes of each value. Demand advances by each value's duration as soon as the
 * write stream has accepted it below its high-water mark; while the stream is over it,
 * the durations are owed and paid on `'drain'`. A demand-aware source therefore stays at
 * most `leadMs` ahead of what has been handed to the file system.
 *
 * When the input ends (complete, error or unsubscribe) it appends the format's trailer,
 * waits until everything is written, applies the format's positional patches (e.g. WAV
 * sizes) with `fs.write` at an offset, and closes the file. The file is opened without
 * `autoClose` so the descriptor stays open for those patches.
 */
export interface FileSinkFormat<T, R> {
  /** Used in error messages, e.g. `wavFileSink`. */
  readonly name: string;
  /** Bytes written first (e.g. a header with placeholder sizes). */
  header(): readonly Buffer[];
  /**
   * Turns one upstream value into bytes to append (possibly none yet) and the audio it
   * carries, ms. Throws an `RxVoiceError` to end the sink with that error (the file is
   * still finalized).
   */
  accept(value: T): { readonly chunks: readonly Buffer[]; readonly ms: number };
  /** Bytes to append when the input ends, whatever the reason. */
  trailer(): readonly Buffer[];
  /** Positional writes once everything is on disk; `fileBytes` is the file's length. */
  patches(fileBytes: number): ReadonlyArray<{ readonly position: number; readonly bytes: Buffer }>;
  /** The value emitted after a successful completion. */
  result(fileBytes: number): R;
}

type State = 'running' | 'finishing' | 'done';

/** `SINK_FAILED` for a file-system error (kept as `cause`). */
function sinkFailed(name: string, path: string, cause: unknown): RxVoiceError<'SINK_FAILED'> {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new RxVoiceError('SINK_FAILED', `${name}: writing ${path} failed: ${detail}`, { cause });
}

function writeAt(fd: number, bytes: Buffer, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    write(fd, bytes, 0, bytes.length, position, (err) => (err ? reject(err) : resolve()));
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => close(fd, (err) => (err ? reject(err) : resolve())));
}

/**
 * Runs a file sink on `source`, writing to `path`. `createFormat` is called once per
 * subscription, so each subscription has its own format state.
 */
export function runFileSink<T, R>(
  source: Observable<T>,
  path: string,
  createFormat: () => FileSinkFormat<T, R>,
): Observable<R> {
  return new Observable<R>((subscriber) => {
    const format = createFormat();
    const demand = new SinkDemand();
    const stream = createWriteStream(path, { flags: 'w', autoClose: false });
    let state: State = 'running';
    let fileBytes = 0;
    let congested = false;
    let owedMs = 0;
    let streamError: Error | null = null;
    let upstream: Subscription | undefined;

    let openFd: number | null = null;
    stream.once('open', (fd: number) => {
      openFd = fd;
    });

    const append = (chunk: Buffer): void => {
      if (chunk.length === 0) return;
      fileBytes += chunk.length;
      if (!stream.write(chunk)) congested = true;
    };

    const onDrain = (): void => {
      congested = false;
      if (owedMs > 0 && state === 'running') {
        const ms = owedMs;
        owedMs = 0;
        demand.consume(ms);
      }
    };
    stream.on('drain', onDrain);

    stream.on('error', (err: Error) => {
      streamError = err;
      if (state !== 'running') return; // finish() reports it
      state = 'done';
      upstream?.unsubscribe();
      demand.complete();
      const open = openFd;
      if (open !== null) closeFd(open).catch(() => undefined);
      subscriber.error(sinkFailed(format.name, path, err));
    });

    /** Ends the input: trailer, wait for the stream, patches, close. Rejects with the file-system error. */
    const finish = async (): Promise<void> => {
      state = 'finishing';
      upstream?.unsubscribe();
      stream.off('drain', onDrain);
      demand.complete();
      try {
        for (const chunk of format.trailer()) append(chunk);
        await new Promise<void>((resolve, reject) => {
          if (streamError) return reject(streamError);
          stream.once('error', reject);
          stream.once('finish', () => {
            stream.off('error', reject);
            resolve();
          });
          stream.end();
        });
      } catch (err) {
        const open = openFd;
        if (open !== null) await closeFd(open).catch(() => undefined);
        throw err;
      }
      const open = openFd;
      if (open === null) throw new Error('the file was never opened');
      try {
        for (const patch of format.patches(fileBytes)) await writeAt(open, patch.bytes, patch.position);
      } catch (err) {
        await closeFd(open).catch(() => undefined);
        throw err;
      }
      await closeFd(open);
    };

    const endWithError = (err: unknown): void => {
      if (state !== 'running') return;
      finish().then(
        () => {
          state = 'done';
          subscriber.error(err);
        },
        () => {
          state = 'done';
          subscriber.error(err);
        },
      );
    };

    try {
      for (const chunk of format.header()) append(chunk);
    } catch (err) {
      endWithError(err);
      return;
    }

    upstream = withDemand(demand, () =>
      source.subscribe({
        next: (value) => {
          if (state !== 'running') return;
          let accepted: { readonly chunks: readonly Buffer[]; readonly ms: number };
          try {
            accepted = format.accept(value);
          } catch (err) {
            endWithError(err);
            return;
          }
          demand.received(accepted.ms);
          for (const chunk of accepted.chunks) append(chunk);
          if (congested) owedMs += accepted.ms;
          else demand.consume(accepted.ms);
        },
        error: (err: unknown) => endWithError(err),
        complete: () => {
          if (state !== 'running') return;
          finish().then(
            () => {
              state = 'done';
              subscriber.next(format.result(fileBytes));
              subscriber.complete();
            },
            (err: unknown) => {
              state = 'done';
              subscriber.error(sinkFailed(format.name, path, err));
            },
          );
        },
      }),
    );
    // The upstream may have ended (or the sink failed) synchronously inside subscribe.
    if (state !== 'running') upstream.unsubscribe();

    return () => {
      if (state === 'running') {
        // Unsubscribed: still leave a valid file behind. Nobody is listening for errors.
        finish().catch(() => undefined);
      }
      upstream?.unsubscribe();
    };
  });
}
