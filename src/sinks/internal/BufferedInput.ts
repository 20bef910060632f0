import type { Observable, Subscription } from 'rxjs';
import { FRAME_MS, type OpusPacket } from '../../core/audioFormat';
import { SinkDemand, withDemand } from '../../core/FrameDemand';
import { frameMediaMs } from '../../core/mediaTime';
import { RxVoiceWarning } from '../../errors';
import { PacketQueue } from './PacketQueue';
import type { PacketFeed } from './playFeed';

/** A packet stands for at most this much input (timescale at its fastest, 8×), ms. */
const MAX_TAG_STEP_MS = 8 * FRAME_MS;

/** The default warning hook. */
function emitProcessWarning(warning: RxVoiceWarning): void {
  process.emitWarning(warning);
}

/**
 * One input of a voice sink, read under demand into a queue: the sink's upstream
 * (`voiceSink`) or one track of a player. Sources read at most `leadMs` ahead of what was
 * taken; a source without demand is kept whole (one process warning) up to `maxBytes`
 * of Opus payload, above which the oldest packets are dropped and counted.
 */
export class BufferedInput implements PacketFeed {
  private readonly demand: SinkDemand;
  private readonly queue = new PacketQueue();
  private upstream: Subscription | null = null;
  private endedFlag = false;
  private failure: unknown = null;
  private dropped = 0;
  private warned = false;
  /** Packets taken since the start or the last seek. */
  taken = 0;
  /** Position of the first packet after the last seek, ms of the input. */
  baseMs = 0;
  /** Media-time tag of the last packet taken that had one (since the last seek). */
  private lastTag: number | undefined = undefined;
  /** Input time one packet stands for, from the last two tags, ms. */
  private tagStep = FRAME_MS;

  /**
   * @param source Opus packets.
   * @param leadMs read-ahead, ms.
   * @param maxBytes memory bound, Opus payload bytes.
   * @param onEnd called once when the source has completed or failed (not when stopped).
   */
  constructor(
    private readonly source: Observable<OpusPacket>,
    private readonly leadMs: number,
    private readonly maxBytes: number,
    private readonly onEnd: () => void = () => undefined,
    private readonly warn: (warning: RxVoiceWarning) => void = emitProcessWarning,
  ) {
    this.demand = new SinkDemand(leadMs);
  }

  get ended(): boolean {
    return this.endedFlag;
  }

  get error(): unknown {
    return this.failure;
  }

  get bufferedMs(): number {
    return this.queue.length * FRAME_MS;
  }

  get droppedFrames(): number {
    return this.dropped;
  }

  /** Whether every packet read has been taken. */
  get empty(): boolean {
    return this.queue.length === 0;
  }

  /**
   * Position after the last packet taken (of the next one), ms of the input: from the
   * packets' media-time tags when they carry them (`ffmpegSource`, `timescale`: the last
   * tag plus the step between the last two), else 20 ms per packet since the start or the
   * last seek.
   */
  get positionMs(): number {
    return this.lastTag !== undefined ? this.lastTag + this.tagStep : this.baseMs + this.taken * FRAME_MS;
  }

  start(): void {
    if (this.upstream) return;
    this.upstream = withDemand(this.demand, () =>
      this.source.subscribe({
        next: (packet) => this.push(packet),
        error: (err: unknown) => {
          this.failure = err;
          this.end();
        },
        complete: () => this.end(),
      }),
    );
  }

  peek(): OpusPacket | undefined {
    return this.queue.peek();
  }

  /** Packets at `skip` … `skip + max − 1` of the queue; `final` once the source has ended and they reach its end. */
  ahead(skip: number, max: number): { packets: OpusPacket[]; final: boolean } {
    const q = this.queue;
    const packets: OpusPacket[] = [];
    for (let i = skip; i < q.length && packets.length < max; i++) packets.push(q.at(i) as OpusPacket);
    return { packets, final: this.endedFlag && skip + packets.length >= q.length };
  }

  /** Packets queued. */
  get queued(): number {
    return this.queue.length;
  }

  shift(): OpusPacket | undefined {
    const packet = this.queue.shift();
    if (packet) {
      const tag = frameMediaMs(packet);
      if (tag !== undefined) {
        const step = this.lastTag === undefined ? FRAME_MS : tag - this.lastTag;
        if (step > 0 && step <= MAX_TAG_STEP_MS) this.tagStep = step;
        this.lastTag = tag;
      }
      this.taken++;
      this.demand.consume(FRAME_MS);
    }
    return packet;
  }

  seek(ms: number): void {
    if (this.endedFlag) {
      // Read to its end already: subscribe again; the source takes the seek below.
      this.endedFlag = false;
      this.failure = null;
      this.upstream?.unsubscribe();
      this.upstream = null;
      this.start();
    }
    this.demand.seek(ms); // first: sources drop what they hold from the old position
    this.queue.clear();
    this.baseMs = ms;
    this.taken = 0;
    this.lastTag = undefined;
    this.tagStep = FRAME_MS;
    this.demand.clear();
  }

  stop(): void {
    this.upstream?.unsubscribe();
    this.queue.clear();
  }

  dispose(): void {
    this.stop();
    this.demand.complete();
  }

  private push(packet: OpusPacket): void {
    const paced = this.demand.received(FRAME_MS);
    const queue = this.queue;
    queue.push(packet);
    if (!paced && !this.warned && queue.length * FRAME_MS > 2 * this.leadMs) {
      this.warned = true;
      this.warn(
        new RxVoiceWarning(
          'RXVOICE_NO_DEMAND',
          `rxvoice: a source is producing audio faster than it is played, without demand (${queue.length} frames queued). ` +
          'Every frame is kept (up to maxBufferedBytes), but memory grows: use an rxvoice source (ffmpegSource, audioSource, ' +
          'oggOpusSource, frameSource …) or a DemandGate in your own source, and keep asynchronous operators (observeOn, ' +
          'delay) out of the way between source and sink.',
        ),
      );
    }
    // The bound is for sources without demand (a paced source stops at `leadMs` by itself;
    // dropping its frames would only make it produce more, synchronously, forever).
    while (!paced && queue.bytes > this.maxBytes && queue.length > 1) {
      queue.shift();
      this.dropped++;
      this.demand.consume(FRAME_MS);
    }
  }

  private end(): void {
    if (this.endedFlag) return;
    this.endedFlag = true;
    this.onEnd();
  }
}
