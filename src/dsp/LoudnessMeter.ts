import { SAMPLE_RATE } from '../core/audioFormat';

// Bound once: a global `Math` lookup per call is much slower inside jest's vm sandbox.
const { log10, floor } = Math;

/**
 * K-weighting at 48 kHz (ITU-R BS.1770-4, tables 1 and 2): a high-shelf pre-filter (+4 dB
 * above ~1.5 kHz, the head's acoustic effect) followed by the RLB high-pass (~38 Hz).
 * [b0, b1, b2, a1, a2].
 */
const SHELF = [1.53512485958697, -2.69169618940638, 1.19839281085285, -1.69065929318241, 0.73248077421585] as const;
const RLB = [1.0, -2.0, 1.0, -1.99004745483398, 0.99007225036621] as const;

/** Gating sub-block: 100 ms (blocks are 400 ms with 75 % overlap, i.e. 4 sub-blocks). */
const SUB_BLOCK = SAMPLE_RATE / 10;
/** Absolute gate, LUFS. */
const ABSOLUTE_GATE = -70;
/** Relative gate, LU below the absolute-gated loudness. */
const RELATIVE_GATE = -10;
/** Histogram of gated block loudness: 0.05 LU bins from −70 to +10 LUFS (the last bin takes everything above). */
const BIN_LU = 0.05;
const BINS = Math.round((10 - ABSOLUTE_GATE) / BIN_LU);

/** Loudness, LUFS, of a mean square (sum over channels, weights 1). */
export function loudnessOf(meanSquare: number): number {
  return -0.691 + 10 * log10(meanSquare);
}

/**
 * A streaming EBU R128 / ITU-R BS.1770-4 integrated-loudness meter for 48 kHz stereo
 * (left and right, channel weight 1): K-weighting, 400 ms blocks every 100 ms, absolute
 * gate at −70 LUFS and relative gate 10 LU below the loudness of the blocks above the
 * absolute gate.
 *
 * It keeps a histogram of block energies (0.05 LU bins, with each bin's exact energy sum),
 * so memory and the cost of {@link integrated} are bounded however long the input; the
 * relative gate is decided per bin, which moves the result by at most a few hundredths of
 * an LU.
 */
export class LoudnessMeter {
  /** Filter memories, TDF-II: [shelf s1, s2, rlb s1, s2] per channel. */
  private readonly filterState = new Float64Array(8);
  /** Sum of squares of the current sub-block, per channel. */
  private sumLeft = 0;
  private sumRight = 0;
  private filled = 0;
  /** Mean squares (channels summed) of the last 4 sub-blocks, ring. */
  private readonly recent = new Float64Array(4);
  private subBlocks = 0;
  private readonly binCount = new Float64Array(BINS);
  private readonly binEnergy = new Float64Array(BINS);
  private gatedCount = 0;
  private gatedEnergy = 0;
  /** Blocks measured so far (gated or not). */
  blocks = 0;

  /**
   * Adds `pairs` interleaved stereo pairs (full scale ±1). Returns how many 400 ms blocks
   * were completed by them (a new block every 100 ms once the first 400 ms are in).
   */
  push(samples: Float64Array, pairs: number): number {
    const st = this.filterState;
    const [sb0, sb1, sb2, sa1, sa2] = SHELF;
    const [rb0, rb1, rb2, ra1, ra2] = RLB;
    let completed = 0;
    let k = 0;
    while (k < pairs) {
      const take = Math.min(pairs - k, SUB_BLOCK - this.filled);
      for (let ch = 0; ch < 2; ch++) {
        let s1 = st[4 * ch];
        let s2 = st[4 * ch + 1];
        let t1 = st[4 * ch + 2];
        let t2 = st[4 * ch + 3];
        let sum = 0;
        const end = 2 * (k + take);
        for (let i = 2 * k + ch; i < end; i += 2) {
          const x = samples[i];
          const y = sb0 * x + s1;
          s1 = sb1 * x - sa1 * y + s2;
          s2 = sb2 * x - sa2 * y;
          const z = rb0 * y + t1;
          t1 = rb1 * y - ra1 * z + t2;
          t2 = rb2 * y - ra2 * z;
          sum += z * z;
        }
        st[4 * ch] = s1;
        st[4 * ch + 1] = s2;
        st[4 * ch + 2] = t1;
        st[4 * ch + 3] = t2;
        if (ch === 0) this.sumLeft += sum;
        else this.sumRight += sum;
      }
      k += take;
      this.filled += take;
      if (this.filled === SUB_BLOCK) {
        this.recent[this.subBlocks & 3] = (this.sumLeft + this.sumRight) / SUB_BLOCK;
        this.subBlocks++;
        this.sumLeft = 0;
        this.sumRight = 0;
        this.filled = 0;
        if (this.subBlocks >= 4) {
          this.addBlock((this.recent[0] + this.recent[1] + this.recent[2] + this.recent[3]) / 4);
          completed++;
        }
      }
    }
    return completed;
  }

  private addBlock(meanSquare: number): void {
    this.blocks++;
    const loudness = loudnessOf(meanSquare);
    if (!(loudness > ABSOLUTE_GATE)) return;
    let bin = floor((loudness - ABSOLUTE_GATE) / BIN_LU);
    if (bin >= BINS) bin = BINS - 1;
    this.binCount[bin]++;
    this.binEnergy[bin] += meanSquare;
    this.gatedCount++;
    this.gatedEnergy += meanSquare;
  }

  /**
   * Integrated loudness of everything pushed so far, LUFS; `-Infinity` before the first
   * block above the absolute gate (less than 400 ms in, or only silence).
   */
  integrated(): number {
    if (this.gatedCount === 0) return -Infinity;
    const relativeGate = loudnessOf(this.gatedEnergy / this.gatedCount) + RELATIVE_GATE;
    // Bins whose centre lies above the relative gate.
    let first = Math.ceil((relativeGate - ABSOLUTE_GATE) / BIN_LU - 0.5);
    if (first < 0) first = 0;
    let count = 0;
    let energy = 0;
    for (let b = first; b < BINS; b++) {
      count += this.binCount[b];
      energy += this.binEnergy[b];
    }
    return count > 0 ? loudnessOf(energy / count) : -Infinity;
  }

  /** A copy with the same state. */
  clone(): LoudnessMeter {
    const copy = new LoudnessMeter();
    copy.filterState.set(this.filterState);
    copy.sumLeft = this.sumLeft;
    copy.sumRight = this.sumRight;
    copy.filled = this.filled;
    copy.recent.set(this.recent);
    copy.subBlocks = this.subBlocks;
    copy.binCount.set(this.binCount);
    copy.binEnergy.set(this.binEnergy);
    copy.gatedCount = this.gatedCount;
    copy.gatedEnergy = this.gatedEnergy;
    copy.blocks = this.blocks;
    return copy;
  }
}
