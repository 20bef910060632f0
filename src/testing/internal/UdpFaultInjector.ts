import type { UdpFaults } from '../VoiceServer';

/** Deterministic PRNG (mulberry32), so fault runs can be repeated with a seed. */
function mulberry32(seed: number): () => number {
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
  private rand: () => number = Math.random;
  private held: (() => void) | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  dropped = 0;
  reordered = 0;
  delayed = 0;

  constructor(private readonly direction: 'in' | 'out') {}

  set(faults: UdpFaults | null): void {
    const dir = faults?.direction ?? 'both';
    this.faults = faults && (dir === 'both' || dir === this.direction) ? faults : null;
    this.rand = faults?.seed !== undefined ? mulberry32(faults.seed) : Math.random;
    if (!this.faults) this.flush();
  }

  apply(deliver: () => void): void {
    const f = this.faults;
    if (!f) {
      deliver();
      return;
    }
    if (f.drop && this.rand() < f.drop) {
      this.dropped++;
      return;
    }
    if (f.delay && this.rand() < f.delay) {
      this.delayed++;
      const t = setTimeout(() => {
        this.timers.delete(t);
        deliver();
      }, f.delayMs ?? 40);
      this.timers.add(t);
      return;
    }
    if (!this.held && f.reorder && this.rand() < f.reorder) {
      this.reordered++;
      this.held = deliver;
      return;
    }
    deliver();
    this.flush();
  }

  /** Delivers a held-back datagram now. */
  flush(): void {
    const h = this.held;
    this.held = null;
    h?.();
  }

  dispose(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.held = null;
  }
}
