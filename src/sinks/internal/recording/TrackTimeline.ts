import { isOpusSilence } from '../../../core/audioFormat';
import { sequenceDelta } from '../../../protocol/rtp';

/** What {@link TrackTimeline} holds of a packet. */
export interface TimelinePacket {
  readonly sequence: number;
  readonly payload: Buffer;
}

/** What one slot of a track holds once it is final. */
export type SlotContent =
  /** The packet placed in this slot. */
  | { readonly kind: 'packet'; readonly payload: Buffer }
  /** A packet lost inside a talk spurt (conceal it); `next`: the following slot's packet when already here (FEC). */
  | { readonly kind: 'lost'; readonly next?: Buffer }
  /** Nobody talking: digital silence. */
  | { readonly kind: 'silence' };

/** A talk spurt on the timeline, in slots: `[start, end)`. */
export interface SlotSpurt {
  start: number;
  end: number;
}

const SILENCE: SlotContent = Object.freeze({ kind: 'silence' });

/**
 * One user's track on the recording's timeline: holds placed packets until their slots are
 * final, then gives each slot from 0 on exactly once, in order — its packet, a loss to
 * conceal, or silence. Internal to `recordVoiceChannel`.
 *
 * A slot without a packet is a loss when the packets around it are consecutive in RTP
 * sequence as far apart as their slots (the missing sequence numbers belong there) and the
 * one before was not an Opus silence frame; otherwise the sender was not sending (a pause,
 * whether its timestamps jumped or not) and the slot is silence. Packets whose slot is
 * already final are dropped (`late`). At most `maxHeld` packets are held (the lowest slot
 * goes first: memory stays bounded whatever arrives).
 */
export class TrackTimeline {
  private readonly held = new Map<number, TimelinePacket>();
  /** Next slot to finalize. */
  private next = 0;
  private lastSlot = -1;
  private lastSequence = 0;
  private lastWasSilenceFrame = true;
  private spurt: SlotSpurt | null = null;
  /** Spurts that ended (the current one is added by {@link spurts}). */
  private readonly ended: SlotSpurt[] = [];
  late = 0;
  overflow = 0;
  /** Slots finalized as talking (packets that are not silence frames, and losses). */
  talkingSlots = 0;

  constructor(private readonly maxHeld = 500) {}

  /** The next slot to be finalized (= slots given so far). */
  get position(): number {
    return this.next;
  }

  /** Whether the last finalized slot was part of a talk spurt. */
  get talking(): boolean {
    return this.spurt !== null;
  }

  add(slot: number, packet: TimelinePacket): void {
    if (slot < this.next) {
      this.late++;
      return;
    }
    this.held.set(slot, packet);
    if (this.held.size > this.maxHeld) {
      let lowest = Infinity;
      for (const k of this.held.keys()) if (k < lowest) lowest = k;
      this.held.delete(lowest);
      this.overflow++;
    }
  }

  /** Gives every slot before `limit` not given yet, in order. */
  finalize(limit: number, onSlot: (slot: number, content: SlotContent) => void): void {
    let following = -1; // lowest held slot above the current one (-1: not looked up yet / none)
    while (this.next < limit) {
      const slot = this.next++;
      const packet = this.held.get(slot);
      let content: SlotContent;
      if (packet) {
        this.held.delete(slot);
        this.lastSlot = slot;
        this.lastSequence = packet.sequence;
        this.lastWasSilenceFrame = isOpusSilence(packet.payload);
        content = { kind: 'packet', payload: packet.payload };
        following = -1;
      } else {
        if (following <= slot) following = this.lowestAbove(slot);
        const after = following > 0 ? this.held.get(following) : undefined;
        const lost =
          after !== undefined &&
          this.lastSlot >= 0 &&
          !this.lastWasSilenceFrame &&
          sequenceDelta(after.sequence, this.lastSequence) === following - this.lastSlot;
        content = lost ? (following === slot + 1 ? { kind: 'lost', next: after.payload } : { kind: 'lost' }) : SILENCE;
      }
      const talking = content.kind === 'lost' || (content.kind === 'packet' && !this.lastWasSilenceFrame);
      if (talking) {
        this.talkingSlots++;
        if (this.spurt) this.spurt.end = slot + 1;
        else this.spurt = { start: slot, end: slot + 1 };
      } else if (this.spurt) {
        this.ended.push(this.spurt);
        this.spurt = null;
      }
      onSlot(slot, content);
    }
  }

  /** Every talk spurt so far, the current one included (copies). */
  spurts(): SlotSpurt[] {
    const all = this.ended.map((s) => ({ ...s }));
    if (this.spurt) all.push({ ...this.spurt });
    return all;
  }

  private lowestAbove(slot: number): number {
    let lowest = -1;
    for (const k of this.held.keys()) if (k > slot && (lowest < 0 || k < lowest)) lowest = k;
    return lowest;
  }
}
