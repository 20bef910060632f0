import { RtpSender } from './RtpSender';

/**
 * The send side of one voice connection: its RTP state (sequence, timestamp, transport
 * nonce counter — see {@link RtpSender}) and which sink is sending.
 *
 * A connection sends one stream: Discord gives it one SSRC. So the lane has one owner at a
 * time; a second `voiceSink` (or player) on the same connection waits, in order, until the
 * one before it has ended (after its trailing silence frames), and then continues the same
 * RTP sequence and timestamp. The nonce counter is shared by everything that seals packets
 * for the connection, so it is never reused for a key.
 *
 * Lanes live beside their connection ({@link sendLaneOf}), never in a sink's closure.
 */
export class SendLane {
  /** RTP sequence/timestamp and nonce counter of the connection's outgoing stream. */
  readonly rtp = new RtpSender();
  /** When the last packet was sent, on the sending clock's time base (ms); a new owner waits a tick after it. */
  lastSentAt = -Infinity;
  /** The clock `lastSentAt` is on (times of different clocks are not compared). */
  lastSentClock: object | null = null;
  private owner: object | null = null;
  private readonly waiting: Array<{ token: object; grant: () => void }> = [];

  /**
   * Asks for the lane. `grant` runs once the caller owns it: synchronously when it is free,
   * else when every earlier owner has released it. Returns `release`, which gives the lane
   * to the next waiter (or withdraws a request not yet granted). Idempotent.
   */
  acquire(grant: () => void): () => void {
    const token = {};
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      if (this.owner === token) {
        this.owner = null;
        const next = this.waiting.shift();
        if (next) {
          this.owner = next.token;
          next.grant();
        }
      } else {
        const i = this.waiting.findIndex((w) => w.token === token);
        if (i >= 0) this.waiting.splice(i, 1);
      }
    };
    if (this.owner === null) {
      this.owner = token;
      grant();
    } else {
      this.waiting.push({ token, grant });
    }
    return release;
  }
}

const lanes = new WeakMap<object, SendLane>();

/** The send lane of a connection (created on first use, kept as long as the connection object lives). */
export function sendLaneOf(connection: object): SendLane {
  let lane = lanes.get(connection);
  if (!lane) {
    lane = new SendLane();
    lanes.set(connection, lane);
  }
  return lane;
}
