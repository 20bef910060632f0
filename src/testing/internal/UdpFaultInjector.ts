import type { UdpFaults } from '../VoiceServer';

/** Deterministic PRNG (mulberry32), so fault runs can be repeated with a seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Applies drop / reorder / delay faults to datagrams of one direction (internal).
 * `deliver` is called for every datagram that survives, possibly later.
 */
export class UdpFaultInjector {
  private faults: UdpFaults | null = null;
  /** Per stream (SSRC): its own RNG (so interleaving streams don't change each other's faults) and held packet. */
  private readonly streams = new Map<number, { rand: () => number; held: (() => void) | null }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  dropped = 0;
  reordered = 0;
  delayed = 0;

  constructor(private readonly direction: 'in' | 'out') {}

  set(faults: UdpFaults | null): void {
    const dir = faults?.direction ?? 'both';
    this.flush();
    this.streams.clear();
    this.faults = faults && (dir === 'both' || dir === this.direction) ? faults : null;
  }

  private stream(key: number): { rand: () => number; held: (() => void) | null } {
    let s = this.streams.get(key);
    if (!s) {
      const seed = this.faults?.seed;
      s = { rand: seed !== undefined ? mulberry32((seed ^ Math.imul(key >>> 0, 0x9e3779b1)) >>> 0) : Math.random, held: null };
      this.streams.set(key, s);
    }
    return s;
  }

  /** Delivers, drops, delays or holds back one datagram of stream `key` (its SSRC). */
  apply(deliver: () => void, key = 0): void {
    const f = this.faults;
    if (!f) {
      deliver();
      return;
    }
    const s = this.stream(key);
    if (f.drop && s.rand() < f.drop) {
      this.dropped++;
      return;
    }
    if (f.delay && s.rand() < f.delay) {
      this.delayed++;
      const t = setTimeout(() => {
        this.timers.delete(t);
        deliver();
      }, f.delayMs ?? 40);
      this.timers.add(t);
      return;
    }
    if (!s.held && f.reorder && s.rand() < f.reorder) {
      this.reordered++;
      s.held = deliver;
      return;
    }
    deliver();
    const held = s.held;
    s.held = null;
    held?.();
  }

  /** Delivers every held-back datagram now. */
  flush(): void {
    for (const s of this.streams.values()) {
      const held = s.held;
      s.held = null;
      held?.();
    }
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.streams.clear();
  }
}
