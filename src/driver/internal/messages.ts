import type { DaveState } from '../../gateway/DaveController';
import type { ReceiveStats } from '../../gateway/VoiceReceiver';
import type { VoiceConnectionErrorCode } from '../../gateway/VoiceConnectionError';
import type { VoiceConnectionDestroyReason } from '../../gateway/VoiceConnectionState';
import type { EncryptionMode } from '../../protocol/transportCrypto';
import type { VoiceMessage } from '../../protocol/opcodes';
import type { RxVoiceErrorCode } from '../../errors';
import type { PlaybackCommand } from '../../sinks/createPlaybackControl';
import type { PlaybackProgress } from '../../sinks/internal/playFeed';
import type { ConnectVoiceOptions } from '../../gateway/connectVoice';

/**
 * Packs byte arrays back to back into one new `ArrayBuffer` (transferable; cloning a view
 * would copy its whole backing buffer, e.g. Node's 8 KiB pool).
 */
export function packBytes(items: readonly Uint8Array[]): { data: ArrayBuffer; lengths: number[] } {
  let total = 0;
  for (const b of items) total += b.length;
  const data = new ArrayBuffer(total);
  const view = new Uint8Array(data);
  const lengths = new Array<number>(items.length);
  let at = 0;
  for (let i = 0; i < items.length; i++) {
    view.set(items[i], at);
    at += items[i].length;
    lengths[i] = items[i].length;
  }
  return { data, lengths };
}

/** The inverse of {@link packBytes}: `Buffer` views into `data`. */
export function unpackBytes(data: ArrayBuffer, lengths: readonly number[]): Buffer[] {
  const out = new Array<Buffer>(lengths.length);
  let at = 0;
  for (let i = 0; i < lengths.length; i++) {
    out[i] = Buffer.from(data, at, lengths[i]);
    at += lengths[i];
  }
  return out;
}

/**
 * What crosses between the main thread and a driver thread: plain data only (structured
 * clone), batched per event-loop turn (one `postMessage` carries an array of these).
 */

/** `connectVoice` options that can cross a thread: no functions, no schedulers; `log`: forward log entries (the main thread has a logger). */
export type PlainConnectOptions = Omit<ConnectVoiceOptions, 'logger' | 'scheduler' | 'drivers'> & { log: boolean };

/** A `VoiceConnectionError` as data. */
export interface PlainConnectionError {
  code: VoiceConnectionErrorCode;
  message: string;
  closeCode: number | null;
}

/** `VoiceConnectionState` as data (the `disconnected` error as {@link PlainConnectionError}). */
export type PlainState =
  | { status: 'disconnected'; endpoint: string; error: PlainConnectionError }
  | { status: 'destroyed'; reason: VoiceConnectionDestroyReason }
  | { status: Exclude<string, 'disconnected' | 'destroyed'>; [k: string]: unknown };

/** An `RxVoiceError` as data. */
export interface PlainError {
  code: RxVoiceErrorCode;
  message: string;
}

/** Main → driver. */
export type DriverCommand =
  | { t: 'connect'; id: number; options: PlainConnectOptions }
  | { t: 'update-server'; id: number; endpoint: string | null; token: string }
  | { t: 'update-session'; id: number; sessionId: string; channelId: string }
  | { t: 'rejoin'; id: number }
  | { t: 'destroy'; id: number }
  | { t: 'set-speaking'; id: number; flags: number }
  | { t: 'verify'; id: number; req: number; userId: string }
  | { t: 'receive'; id: number; on: boolean }
  | { t: 'udp-send'; id: number; data: ArrayBuffer; lengths: number[] }
  /** `frameMs`: the tick of the session's clock when not 20 (a test's fast clock: the driver makes its own with that tick). */
  | { t: 'sink-open'; id: number; sink: number; silenceFrames?: number; speakingFlags?: number; progressEveryMs?: number; frameMs?: number }
  /** Packets of generation `gen`, in order; `final`: nothing follows them (unless more packets of the same gen come later). */
  | { t: 'sink-push'; sink: number; gen: number; data: ArrayBuffer; lengths: number[]; final: boolean; failed: boolean }
  /** Drop what is queued and not sent; what follows is generation `gen` (skip, seek of a track). */
  | { t: 'sink-reset'; sink: number; gen: number }
  | { t: 'sink-command'; sink: number; command: PlaybackCommand; gen: number }
  | { t: 'sink-close'; sink: number }
  /** Read the thread's cumulative tick-lateness histogram (`voiceDriverStats`). */
  | { t: 'clock-stats'; req: number };

/** Driver → main. */
export type DriverEvent =
  | { t: 'state'; id: number; state: PlainState }
  | { t: 'message'; id: number; message: VoiceMessage }
  | { t: 'ping'; id: number; rttMs: number }
  | { t: 'dave'; id: number; state: DaveState }
  | { t: 'transport'; id: number; transport: { ssrc: number; mode: EncryptionMode; key: Uint8Array } | null }
  | { t: 'log'; id: number; level: 'debug' | 'info' | 'warn' | 'error'; message: string; data?: Record<string, unknown> }
  | { t: 'verify'; id: number; req: number; code?: string; error?: PlainError }
  | { t: 'speaker'; id: number; userId: string; ssrc: number }
  | { t: 'speaker-end'; id: number; ssrc: number }
  /** Received packets: parallel arrays (ssrc, sequence, timestamp, receivedAt on the driver's clock, payload length), payloads back to back in `data`. */
  | { t: 'packets'; id: number; ssrc: number[]; sequence: number[]; timestamp: number[]; receivedAt: number[]; lengths: number[]; data: ArrayBuffer }
  | { t: 'stats'; id: number; stats: ReceiveStats }
  /** Packets of generation `gen` the sink took (sent) since the last report; progress if it emitted any. */
  | { t: 'sink-progress'; sink: number; gen: number; taken: number; progress: PlaybackProgress | null }
  /**
   * The same for every sink of this turn that has no progress to tell, in one event (three
   * parallel arrays: cloning typed arrays is a copy, cloning an object per sink per tick is not).
   */
  | { t: 'taken'; sinks: Int32Array; gens: Int32Array; counts: Int32Array }
  /** The sink session ended (after its trailing silence); `feedFailed`: the input's error ended it; `error`: anything else. */
  | { t: 'sink-end'; sink: number; feedFailed: boolean; error: PlainError | null }
  /** Answer to `clock-stats`: the thread's cumulative tick-lateness histogram (see core/sendLateness). */
  | { t: 'clock-stats'; req: number; counts: Float64Array };

/** `workerData` of a driver thread. */
export interface DriverWorkerData {
  index: number;
}

/** First message of a driver thread. */
export interface DriverHello {
  t: 'hello';
  timeOrigin: number;
}
