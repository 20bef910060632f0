import type { OpusPacket } from '../../core/audioFormat';

/** FIFO of the packets waiting for their tick: an array with a read index (no `shift()` per frame); counts payload bytes. */
export class PacketQueue {
  private items: Array<OpusPacket | undefined> = [];
  private head = 0;
  /** Payload bytes queued. */
  bytes = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(packet: OpusPacket): void {
    this.items.push(packet);
    this.bytes += packet.length;
  }

  /** The next packet, left in the queue. */
  peek(): OpusPacket | undefined {
    return this.items[this.head];
  }

  /** The packet `i` places after the next one (0: the next), left in the queue. */
  at(i: number): OpusPacket | undefined {
    return this.items[this.head + i];
  }

  shift(): OpusPacket | undefined {
    if (this.head === this.items.length) return undefined;
    const packet = this.items[this.head] as OpusPacket;
    this.items[this.head++] = undefined;
    this.bytes -= packet.length;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 256 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return packet;
  }

  clear(): void {
    this.items.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
