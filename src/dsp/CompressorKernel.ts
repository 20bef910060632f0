import { SAMPLE_RATE } from '../core/audioFormat';
import type { StereoKernel } from './StereoKernel';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { log, exp, abs, pow, LN10 } = Math;

/** Settings of {@link CompressorKernel}. */
export interface CompressorSettings {
  /** Level above which the gain is reduced, dBFS (≤ 0). */
  readonly threshold: number;
  /** Input dB above the threshold per output dB (≥ 1; `Infinity`: a limiter). */
  readonly ratio: number;
  /** Time a gain-reduction step takes to complete, ms (≥ 0). */
  readonly attack: number;
  /** Time for the gain to recover (99.9 % of the way) once the level falls, ms (≥ 0). */
  readonly release: number;
  /** Gain added after compression, dB. */
  readonly makeupGain: number;
}

/** The detector holds a peak this long before it may fall: 10 ms (covers half a period down to 50 Hz). */
const HOLD = Math.round(0.01 * SAMPLE_RATE);
/** Deque capacity: a power of two above HOLD + 1. */
const CAP = 1024;
const MASK = CAP - 1;
/** The attack curve aims this fraction beyond the target, so it arrives in finite time. */
const OVERSHOOT = 0.01;
const DB_PER_NEPER = 20 / LN10;
const NEPER_PER_DB = LN10 / 20;

/**
 * A feed-forward peak compressor / limiter, stereo-linked (one gain for both channels):
 *
 * 1. **Detector**: the larger of |L| and |R|; the wanted gain reduction is
 *    `(1 − 1/ratio) · (level − threshold)` dB above the threshold, 0 below; its maximum over
 *    the last 10 ms is held (a sliding-window maximum), so the gain does not ripple with the
 *    waveform.
 * 2. **Ballistics** (in dB): when more reduction is wanted, the reduction moves towards it
 *    on an exponential aimed 1 % past the target and stops at the target — a step from no
 *    reduction completes in exactly `attack` ms (smaller steps sooner); when less is wanted
 *    it recovers exponentially, 99.9 % within `release` ms.
 * 3. `output = input · 10^((makeupGain − reduction)/20)`.
 *
 * With `ratio: Infinity` nothing above the threshold survives the attack time: a limiter
 * (without look-ahead, so the first `attack` ms of a jump can pass above it).
 */
export class CompressorKernel implements StereoKernel<CompressorSettings> {
  private thresholdLin = 1;
  private thresholdDb = 0;
  private slope = 0;
  private attackCoef = 0;
  private releaseCoef = 0;
  private makeupDb = 0;
  /** Current gain reduction, dB ≥ 0. */
  private reduction = 0;
  /** Sliding-window maximum: values and sample indices of the monotonic deque. */
  private dequeValue = new Float64Array(CAP);
  private dequeIndex = new Float64Array(CAP);
  private head = 0;
  private tail = 0;
  private index = 0;

  constructor(settings: CompressorSettings) {
    this.configure(settings);
  }

  configure(s: CompressorSettings): void {
    this.thresholdDb = s.threshold;
    this.thresholdLin = pow(10, s.threshold / 20);
    this.slope = s.ratio === Infinity ? 1 : 1 - 1 / s.ratio;
    const attackSamples = (s.attack * SAMPLE_RATE) / 1000;
    const releaseSamples = (s.release * SAMPLE_RATE) / 1000;
    this.attackCoef = attackSamples > 0 ? pow(OVERSHOOT / (1 + OVERSHOOT), 1 / attackSamples) : 0;
    this.releaseCoef = releaseSamples > 0 ? pow(0.001, 1 / releaseSamples) : 0;
    this.makeupDb = s.makeupGain;
  }

  process(samples: Float64Array, pairs: number): void {
    const { thresholdLin, thresholdDb, slope, attackCoef, releaseCoef, makeupDb, dequeValue, dequeIndex } = this;
    let { reduction, head, tail, index } = this;
    const n = pairs * 2;
    const aimFactor = 1 + OVERSHOOT;
    let lastDb = NaN;
    let lastGain = 1;
    for (let i = 0; i < n; i += 2) {
      const l = abs(samples[i]);
      const r = abs(samples[i + 1]);
      const level = l > r ? l : r;
      const wanted = level > thresholdLin ? slope * (log(level) * DB_PER_NEPER - thresholdDb) : 0;
      // Sliding maximum of `wanted` over the last HOLD samples.
      while (tail !== head && dequeValue[(tail - 1) & MASK] <= wanted) tail = (tail - 1) & MASK;
      dequeValue[tail] = wanted;
      dequeIndex[tail] = index;
      tail = (tail + 1) & MASK;
      if (dequeIndex[head] <= index - HOLD) head = (head + 1) & MASK;
      index++;
      const held = dequeValue[head];
      if (held > reduction) {
        const aim = held * aimFactor;
        reduction = aim + (reduction - aim) * attackCoef;
        if (reduction > held) reduction = held;
      } else {
        reduction = held + (reduction - held) * releaseCoef;
        if (reduction - held < 1e-9) reduction = held;
      }
      const db = makeupDb - reduction;
      if (db !== lastDb) {
        lastDb = db;
        lastGain = exp(db * NEPER_PER_DB);
      }
      samples[i] *= lastGain;
      samples[i + 1] *= lastGain;
    }
    this.reduction = reduction;
    this.head = head;
    this.tail = tail;
    this.index = index;
  }

  /** Current gain reduction, dB (for tests and meters). */
  get gainReductionDb(): number {
    return this.reduction;
  }

  clone(): CompressorKernel {
    const copy = Object.create(CompressorKernel.prototype) as CompressorKernel;
    Object.assign(copy, this);
    copy.dequeValue = this.dequeValue.slice();
    copy.dequeIndex = this.dequeIndex.slice();
    return copy;
  }
}
