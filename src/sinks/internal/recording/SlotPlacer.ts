import { FRAME_MS, SAMPLE_RATE } from '../../../core/audioFormat';
import { timestampDelta } from '../../../protocol/rtp';

/** What {@link SlotPlacer} needs of a received packet. */
export interface PlaceablePacket {
  readonly ssrc: number;
  readonly timestamp: number;
  /** Arrival, ms, on the recording's time base (`performance.now()` for `conn.speakers$`). */
  readonly receivedAt: number;
}

const SAMPLES_PER_MS = SAMPLE_RATE / 1000;
/** A silence in arrivals this long starts a new segment (a talk spurt after a pause, or a stall), ms. */
const PAUSE_MS = 100;
/** A new segment is placed once it has this many packets … */
const SETTLE_PACKETS = 5;
/** … and this long after its first arrival (a burst after a stall all arrives at once), ms. */
const SETTLE_MS = 60;
/** A segment whose timestamps disagree with the clock by more than this is placed by arrival, ms. */
const DISAGREE_MS = 3 * FRAME_MS;
/** Arrival this much before the timestamp says means the timestamps ran ahead: follow arrival, ms. */
const EARLY_MS = 2 * FRAME_MS;
/** Packets per drift check. */
const DRIFT_WINDOW = 50;

/**
 * Places one user's packets on a recording's timeline of 20 ms slots (slot 0 starts at
 * `startAt`). Internal to `recordVoiceChannel`.
 *
 * A packet's time is its RTP timestamp (ms) plus an offset: the smallest `arrival −
 * timestamp` seen, i.e. the timestamp clock mapped onto the receiver's clock by the least
 * delayed packet. So within a talk spurt the timestamps place the audio (jitter and
 * reordering do not move it), and arrival times anchor it:
 * - a new stream (SSRC), and a segment after 100 ms without packets (a pause, or an event
 *   loop stall that delivers a burst), is held until it has 5 packets and 60 ms passed since
 *   its first arrival; its own offset is then measured, and replaces the old one when they
 *   differ by more than 60 ms (a sender whose timestamps did not advance over the pause)
 *   or the stream is new; otherwise the timestamps keep it continuous with what came before;
 * - a packet that arrives more than 40 ms before its timestamp says lowers the offset to it
 *   (the timestamps ran ahead: a sender clock running fast);
 * - when the smallest `arrival − timestamp` of 50 packets (1 s) is more than 60 ms above the
 *   offset, the offset rises to it (a sender clock running slow).
 * Placement thus follows the receiver's clock and never drifts further than ~60 ms from it.
 */
export class SlotPlacer {
  private ssrc = -1;
  /** Unwrapped timestamp (samples) of the newest packet, and its raw value. */
  private extended = 0;
  private lastTimestamp = 0;
  /** arrival − timestamp mapping, ms (NaN: none yet). */
  private offset = NaN;
  private lastArrival = -Infinity;
  private pending: Array<{ p: PlaceablePacket; at: number }> = [];
  private pendingSince = 0;
  private pendingNewStream = false;
  private windowMin = Infinity;
  private windowCount = 0;
  /** Times the offset was replaced (new stream, pause, drift); for stats and tests. */
  reanchors = 0;

  constructor(
    private readonly startAt: number,
    private readonly frameMs = FRAME_MS,
  ) {}

  /** Places `p`; `emit` gets every packet placed now (this one, or later with a segment). */
  place<P extends PlaceablePacket>(p: P, emit: (slot: number, p: P) => void): void {
    const newStream = p.ssrc !== this.ssrc;
    if (newStream) {
      this.flush(Infinity, emit as (slot: number, p: PlaceablePacket) => void);
      this.ssrc = p.ssrc;
      this.extended = 0;
      this.lastTimestamp = p.timestamp;
    }
    const delta = timestampDelta(p.timestamp, this.lastTimestamp);
    const at = this.extended + delta;
    if (delta > 0) {
      this.extended = at;
      this.lastTimestamp = p.timestamp;
    }
    const paused = p.receivedAt - this.lastArrival >= PAUSE_MS;
    if (p.receivedAt > this.lastArrival) this.lastArrival = p.receivedAt;
    if (newStream || (paused && this.pending.length === 0)) {
      this.flush(Infinity, emit as (slot: number, p: PlaceablePacket) => void);
      this.pendingSince = p.receivedAt;
      this.pendingNewStream = newStream || Number.isNaN(this.offset);
      this.pending.push({ p, at });
      return;
    }
    if (this.pending.length > 0) {
      this.pending.push({ p, at });
      this.flush(p.receivedAt, emit as (slot: number, p: PlaceablePacket) => void);
      return;
    }
    const d = p.receivedAt - at / SAMPLES_PER_MS;
    if (d < this.offset - EARLY_MS) {
      this.offset = d;
      this.reanchors++;
    }
    if (d < this.windowMin) this.windowMin = d;
    if (++this.windowCount >= DRIFT_WINDOW) {
      if (this.windowMin > this.offset + DISAGREE_MS) {
        this.offset = this.windowMin;
        this.reanchors++;
      }
      this.windowMin = Infinity;
      this.windowCount = 0;
    }
    emit(this.slotOf(at), p);
  }

  /**
   * Places a held segment once it has settled (`now` ≥ its first arrival + 60 ms and it has
   * 5 packets), or at once with `now = Infinity`. Call it as time passes (packets may stop).
   */
  flush(now: number, emit: (slot: number, p: PlaceablePacket) => void): void {
    if (this.pending.length === 0) return;
    const age = now - this.pendingSince;
    const settled = (age >= SETTLE_MS && this.pending.length >= SETTLE_PACKETS) || age >= SETTLE_MS + SETTLE_PACKETS * this.frameMs; // or a short spurt
    if (!settled) return;
    let min = Infinity;
    for (const { p, at } of this.pending) min = Math.min(min, p.receivedAt - at / SAMPLES_PER_MS);
    if (this.pendingNewStream || Number.isNaN(this.offset) || Math.abs(min - this.offset) > DISAGREE_MS) {
      this.offset = min;
      this.reanchors++;
    }
    this.windowMin = Infinity;
    this.windowCount = 0;
    const held = this.pending;
    this.pending = [];
    for (const { p, at } of held) emit(this.slotOf(at), p);
  }

  private slotOf(at: number): number {
    return Math.floor((at / SAMPLES_PER_MS + this.offset - this.startAt) / this.frameMs);
  }
}
