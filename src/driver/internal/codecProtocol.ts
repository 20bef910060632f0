import type { OpusEncoderSettings } from '../../operators/internal/opusEncoderSettings';

/**
 * Messages between the main thread's `CodecPool` and a codec worker (`codecWorker.ts`).
 * One message per direction per turn of the event loop: a batch of operations, the
 * `ArrayBuffer`s in it transferred.
 */
export type CodecOp =
  /**
   * Create encoder `id`, and encode the `prime` frames with it, dropping their packets (a
   * stream that began on the main thread continues here: the encoder's history is rebuilt
   * from its last frames, so the switch is seamless).
   */
  | { t: 'open'; id: number; settings: OpusEncoderSettings; prime: ArrayBuffer[] }
  /** Encode these 3840-byte PCM frames (one `ArrayBuffer` each) with encoder `id`, in order. */
  | { t: 'enc'; id: number; frames: ArrayBuffer[] }
  /** Free encoder `id`. */
  | { t: 'close'; id: number }
  /** Report how many encoders exist (tests). */
  | { t: 'stats'; req: number };

export type CodecResult =
  /** The packets of one `enc` op, concatenated in `data`; `lengths[i]` is packet i's size. */
  | { t: 'packets'; id: number; data: ArrayBuffer; lengths: number[] }
  /**
   * Encoder `id` failed (`phase` 'open': could not be created; 'encode': libopus rejected a
   * frame — the packets before it came in a `packets` result just before). The encoder is gone.
   */
  | { t: 'error'; id: number; phase: 'open' | 'encode'; message: string }
  | { t: 'stats'; req: number; encoders: number }
  /** The thread has loaded its modules (sent once, first). */
  | { t: 'ready' };

export interface CodecBatch<T> {
  items: T[];
}

/**
 * The control words a codec thread shares with the main thread (`Int32Array` over a
 * `SharedArrayBuffer`, the worker's `workerData.control`).
 *
 * Terminating a thread while it is inside libopus aborts the process (@discordjs/opus
 * throws from native code while the thread is being torn down, and node-addon-api treats
 * the failed throw as fatal). So the main thread stops a codec thread by setting `STOP`,
 * waiting until `BUSY` is 0, and only then terminating it; the thread checks `STOP` before
 * each frame and, when set, parks in `Atomics.wait` (which termination interrupts safely).
 * The same happens for every codec thread at process exit.
 */
export const CONTROL_STOP = 0;
export const CONTROL_BUSY = 1;
export const CONTROL_WORDS = 2;
