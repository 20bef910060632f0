import * as os from 'node:os';
import { RxVoiceError } from '../errors';

/** Options of {@link configureVoiceDriver}. */
export interface VoiceDriverOptions {
  /**
   * Worker threads that run voice connections (their 20 ms clock, RTP, DAVE and transport
   * encryption, UDP send and receive) and Opus encoders. Connections are spread over them.
   * Default: the number of cores (`os.availableParallelism()`). `0`: everything runs on the
   * calling thread, as in rxvoice ≤ 0.1 (and always for connections given a `scheduler` or
   * `drivers`, e.g. marble tests on `TestScheduler`).
   */
  threads?: number;
}

let threads: number | null = null;

/**
 * Sets how rxvoice runs its voice driver. Takes effect for connections and encoders created
 * afterwards; existing ones keep their thread.
 *
 * @throws {RxVoiceError} `INVALID_ARGUMENT` when `threads` is not an integer ≥ 0.
 * @example
 * ```ts
 * configureVoiceDriver({ threads: 0 }); // in-process, on the main thread
 * configureVoiceDriver({ threads: 4 }); // 4 driver threads
 * ```
 */
export function configureVoiceDriver(options: VoiceDriverOptions): void {
  if (options.threads !== undefined) {
    const t = options.threads;
    if (!Number.isInteger(t) || t < 0) {
      throw new RxVoiceError('INVALID_ARGUMENT', `configureVoiceDriver: threads must be an integer ≥ 0, got ${String(t)}`);
    }
    threads = t;
  }
}

/**
 * The number of driver threads in effect: `configureVoiceDriver`'s, else the environment
 * variable `RXVOICE_THREADS`, else `os.availableParallelism()`.
 */
export function voiceDriverThreads(): number {
  if (threads !== null) return threads;
  const env = process.env.RXVOICE_THREADS;
  if (env !== undefined && /^\d+$/.test(env)) return Number(env);
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
