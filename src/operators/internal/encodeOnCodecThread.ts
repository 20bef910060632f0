import type { OpusEncoder } from '@discordjs/opus';
import { merge, Subject, type Observable, type Subscriber, type Subscription, type TeardownLogic } from 'rxjs';
import { FRAME_MS, PCM_FRAME_BYTES, type OpusPacket, type PcmFrame } from '../../core/audioFormat';
import { currentEmitter, DemandGate, emitAs, withDemand, type FrameDemand } from '../../core/FrameDemand';
import { frameMediaMs, setFrameMediaMs } from '../../core/mediaTime';
import { codecPool, type CodecEncoder, type CodecEncoderListener } from '../../driver/internal/CodecPool';
import { RxVoiceError } from '../../errors';
import { badPcmFrame, createOpusEncoder, errorMessage, type OpusEncoderSettings } from './opusEncoderSettings';

/**
 * Frames of one stream posted to its codec thread or waiting to be, at most: the stream's
 * sources are paused (their demand closes) at this many, so a frame waits at most a few ms.
 */
export const MAX_IN_FLIGHT = 50;

/** Frames a stream that began on the main thread hands to its codec thread's encoder to prime it (with 2 a fresh encoder's level dips ~6 % for a few frames; with 8 it does not). */
const PRIME_FRAMES = 8;

/** A FIFO with a moving head (frames of a source without demand may queue up by thousands). */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(item: T): void {
    this.items.push(item);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }
  take(n: number): T[] {
    const out = this.items.slice(this.head, this.head + n);
    for (let i = 0; i < out.length; i++) this.items[this.head + i] = undefined as T;
    this.head += out.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return out;
  }
  /** Drops the newest `n` items. */
  dropTail(n: number): void {
    this.items.length -= Math.min(n, this.length);
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/**
 * The body of an `opusEncode` subscription whose encoder runs on a codec thread.
 *
 * Each PCM frame is copied into its own `ArrayBuffer` (zero-padded) and posted, batched per
 * turn of the event loop; the packets come back in order and are emitted in order.
 *
 * Demand crosses the hop: downstream demand is found by `relay` (at subscribe, or when the
 * sink counts a packet emitted through it, like from any source), and the sources upstream
 * get `upstreamDemand` (at subscribe, or attached to the gate that emitted a frame when the
 * frame arrives): open while the relay is open and the frames in flight plus what the
 * consumer holds stay under its lead (and under {@link MAX_IN_FLIGHT}). Frames from a source
 * without demand are emitted outside any gate, so the sink still sees them as unpaced.
 */
export function encodeOnCodecThread(
  source: Observable<PcmFrame>,
  settings: OpusEncoderSettings,
  subscriber: Subscriber<OpusPacket>,
): TeardownLogic {
  const relay = new DemandGate(subscriber);
  const changes = new Subject<void>();
  /** Frames not posted yet. */
  const queued = new Fifo<ArrayBuffer>();
  /** Per frame posted or queued, in order: whether it came through a `DemandGate`. */
  const paced = new Fifo<boolean>();
  /** Per frame posted or queued, in order: its media-time tag (see `frameMediaMs`), carried to its packet. */
  const tags = new Fifo<number | undefined>();
  let posted = 0;
  /** Frames posted before a seek: their packets are dropped. */
  let discard = 0;
  let terminal: { error: unknown } | 'complete' | null = null;
  let done = false;
  let lastGate: DemandGate | null = null;
  let upstream: Subscription | null = null;
  let stopUpstream = false;

  const pending = (): number => posted + queued.length;
  const upstreamDemand: FrameDemand = {
    get open(): boolean {
      const n = pending();
      if (n >= MAX_IN_FLIGHT || !relay.open) return false;
      const lead = relay.leadMs;
      const buffered = relay.bufferedMs;
      return lead === undefined || buffered === undefined || buffered + n * FRAME_MS < lead;
    },
    changes$: merge(changes, relay.changes$),
    seek$: relay.seek$,
    get bufferedMs(): number | undefined {
      const buffered = relay.bufferedMs;
      return buffered === undefined ? undefined : buffered + pending() * FRAME_MS;
    },
    get leadMs(): number | undefined {
      return relay.leadMs;
    },
  };

  // Subscribed before any source's gate: frames of the old position are dropped before the
  // source continues from the new one.
  const seekSub = relay.seek$.subscribe(() => {
    discard = posted;
    paced.dropTail(queued.length);
    tags.dropTail(queued.length);
    queued.clear();
  });

  const stop = (): void => {
    stopUpstream = true;
    upstream?.unsubscribe();
  };

  const finishIfDrained = (): void => {
    if (done || terminal === null || pending() > 0) return;
    done = true;
    if (terminal === 'complete') subscriber.complete();
    else subscriber.error(terminal.error);
  };

  const post = (): void => {
    const n = Math.min(queued.length, MAX_IN_FLIGHT - posted);
    if (n <= 0 || encoder === null) return;
    posted += n;
    encoder.encode(queued.take(n));
  };

  const listener: CodecEncoderListener = {
    packets: (packets) => {
      for (let i = 0; i < packets.length; i++) {
        posted--;
        const viaGate = paced.shift();
        setFrameMediaMs(packets[i], tags.shift());
        if (discard > 0) {
          discard--;
          continue;
        }
        if (done) return;
        deliver(viaGate === true, packets[i]);
      }
      if (done) return;
      post();
      finishIfDrained();
      if (!done) changes.next(); // frames left the flight: sources may go on
    },
    failed: (error) => {
      if (done) return;
      done = true;
      stop();
      subscriber.error(error);
    },
  };

  const deliver = (viaGate: boolean, packet: OpusPacket): void => {
    if (viaGate) relay.emit(subscriber, packet);
    else emitAs(null, () => subscriber.next(packet));
  };

  // On the main thread until the codec threads are ready (see above).
  const pool = codecPool();
  let encoder: CodecEncoder | null = null;
  let local: OpusEncoder | null = null;
  /** The last frames encoded on the main thread (newest last), to prime the thread's encoder. */
  let recent: ArrayBuffer[] = [];
  let cancelWait: (() => void) | null = null;
  if (pool.ready) {
    encoder = pool.open(settings, listener);
  } else {
    try {
      local = createOpusEncoder(settings);
    } catch (cause) {
      subscriber.error(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: could not set up the encoder: ${errorMessage(cause)}`, { cause }));
      return;
    }
    cancelWait = pool.whenReady((ready) => {
      cancelWait = null;
      if (!ready || done) return;
      encoder = pool.open(settings, listener, recent);
      local = null;
      recent = [];
    });
  }

  upstream = withDemand(upstreamDemand, () =>
    source.subscribe({
      next: (frame) => {
        if (done || terminal !== null) return;
        const bad = badPcmFrame(frame);
        if (bad !== null) {
          stop();
          terminal = { error: bad };
          finishIfDrained();
          return;
        }
        const gate = currentEmitter();
        if (gate !== null && gate !== lastGate && gate !== relay) {
          lastGate = gate;
          gate.attach(upstreamDemand);
        }
        // A copy the thread can own: the frame may be a view of a pooled or reused buffer.
        const copy = new ArrayBuffer(PCM_FRAME_BYTES);
        new Uint8Array(copy).set(frame);
        if (local !== null) {
          let packet: OpusPacket;
          try {
            packet = local.encode(Buffer.from(copy));
          } catch (cause) {
            done = true;
            stop();
            subscriber.error(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: libopus failed to encode: ${errorMessage(cause)}`, { cause }));
            return;
          }
          recent.push(copy);
          if (recent.length > PRIME_FRAMES) recent.shift();
          setFrameMediaMs(packet, frameMediaMs(frame));
          deliver(gate !== null, packet);
          return;
        }
        queued.push(copy);
        paced.push(gate !== null);
        tags.push(frameMediaMs(frame));
        post();
      },
      error: (error: unknown) => {
        if (done || terminal !== null) return;
        terminal = { error };
        finishIfDrained();
      },
      complete: () => {
        if (done || terminal !== null) return;
        terminal = 'complete';
        finishIfDrained();
      },
    }),
  );
  if (stopUpstream) upstream.unsubscribe();

  return () => {
    done = true;
    upstream?.unsubscribe();
    cancelWait?.();
    encoder?.close();
    seekSub.unsubscribe();
    changes.complete();
  };
}
