import type { OpusEncoderSettings } from '../../operators/internal/opusEncoderSettings';

/**
 * Messages between the main thread's `CodecPool` and a codec worker (`codecWorker.ts`).
 * One message per direction per turn of the event loop: a batch of operations, the
 * `ArrayBuffer`s in it transferred.
 */
export type CodecOp =
  /** Create encoder `id`. */
  | { t: 'open'; id: number; settings: OpusEncoderSettings }
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
  | { t: 'stats'; req: number; encoders: number };

export interface CodecBatch<T> {
  items: T[];
}
