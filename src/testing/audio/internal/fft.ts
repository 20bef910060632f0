/**
 * Internal radix-2 FFT used by the audio test helpers. Not re-exported.
 */

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { cos: mathCos, sin: mathSin } = Math;

/** Smallest power of two ≥ `n` (and ≥ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

interface Twiddles {
  readonly cos: Float64Array;
  readonly sin: Float64Array;
}

const twiddleCache = new Map<number, Twiddles>();
const TWIDDLE_CACHE_SIZE = 4;

function twiddles(n: number): Twiddles {
  const cached = twiddleCache.get(n);
  if (cached) return cached;
  const half = n >> 1;
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let k = 0; k < half; k++) {
    const a = (2 * Math.PI * k) / n;
    cos[k] = mathCos(a);
    sin[k] = mathSin(a);
  }
  const t = { cos, sin };
  if (twiddleCache.size >= TWIDDLE_CACHE_SIZE) {
    const oldest = twiddleCache.keys().next().value;
    if (oldest !== undefined) twiddleCache.delete(oldest);
  }
  twiddleCache.set(n, t);
  return t;
}

/**
 * In-place iterative radix-2 FFT of the complex sequence `(re, im)`, whose length must be
 * a power of two. Forward uses `e^{-2πikn/N}`; `inverse` uses `e^{+2πikn/N}` and scales by
 * `1/N`.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) {
    throw new Error(`fft: length ${n} is not a power of two (or re/im lengths differ)`);
  }
  if (n <= 1) return;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      const tr = re[i];
      re[i] = re[j];
      re[j] = tr;
      const ti = im[i];
      im[i] = im[j];
      im[j] = ti;
    }
  }
  const { cos, sin } = twiddles(n);
  const sign = inverse ? 1 : -1;
  for (let size = 2; size <= n; size <<= 1) {
    const half = size >> 1;
    const step = n / size;
    for (let start = 0; start < n; start += size) {
      for (let k = 0, t = 0; k < half; k++, t += step) {
        const wr = cos[t];
        const wi = sign * sin[t];
        const a = start + k;
        const b = a + half;
        const tr = re[b] * wr - im[b] * wi;
        const ti = re[b] * wi + im[b] * wr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
      }
    }
  }
  if (inverse) {
    const s = 1 / n;
    for (let i = 0; i < n; i++) {
      re[i] *= s;
      im[i] *= s;
    }
  }
}

/**
 * Spectrum of the real sequence `x` zero-padded to `size` (a power of two ≥ 2), computed
 * with one complex FFT of `size / 2`. Returns bins `0 … size / 2` (inclusive); the rest are
 * the conjugate mirror.
 */
export function realFft(x: Float64Array, size: number): { re: Float64Array; im: Float64Array } {
  if (size < 2 || (size & (size - 1)) !== 0 || x.length > size) {
    throw new Error(`realFft: bad size ${size} for ${x.length} samples`);
  }
  const h = size >> 1;
  const zr = new Float64Array(h);
  const zi = new Float64Array(h);
  for (let m = 0; m < h; m++) {
    const i = 2 * m;
    if (i < x.length) zr[m] = x[i];
    if (i + 1 < x.length) zi[m] = x[i + 1];
  }
  fft(zr, zi);
  const { cos, sin } = twiddles(size);
  const re = new Float64Array(h + 1);
  const im = new Float64Array(h + 1);
  for (let k = 0; k <= h; k++) {
    const a = k === h ? 0 : k;
    const b = k === 0 ? 0 : h - k;
    // Even part E = (Z[k] + conj Z[h-k]) / 2, odd part O = (Z[k] − conj Z[h-k]) / 2i.
    const er = (zr[a] + zr[b]) / 2;
    const ei = (zi[a] - zi[b]) / 2;
    const or = (zi[a] + zi[b]) / 2;
    const oi = -(zr[a] - zr[b]) / 2;
    // X[k] = E + e^{−2πik/size} · O.
    const wr = k === h ? -1 : cos[k];
    const wi = k === h ? 0 : -sin[k];
    re[k] = er + wr * or - wi * oi;
    im[k] = ei + wr * oi + wi * or;
  }
  return { re, im };
}

/**
 * Power `|X(ω)|²` of the DTFT of `x` at angular frequency `omega` (radians/sample),
 * by the Goertzel recurrence (valid for non-integer bins).
 */
export function goertzelPower(x: Float64Array, omega: number): number {
  const coeff = 2 * Math.cos(omega);
  let s1 = 0;
  let s2 = 0;
  for (let n = 0; n < x.length; n++) {
    const s0 = x[n] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * Hann-windowed copy of `x` (symmetric window, `w[0] = w[N-1] = 0`), optionally with the
 * mean removed first. Returns the windowed signal and the window sum `Σw`.
 */
export function hannWindowed(x: Float32Array, removeMean: boolean): { signal: Float64Array; windowSum: number } {
  const n = x.length;
  const out = new Float64Array(n);
  let mean = 0;
  if (removeMean && n > 0) {
    for (let i = 0; i < n; i++) mean += x[i];
    mean /= n;
  }
  if (n === 1) {
    out[0] = x[0] - mean;
    return { signal: out, windowSum: 1 };
  }
  let windowSum = 0;
  const k = (2 * Math.PI) / (n - 1);
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * mathCos(k * i);
    windowSum += w;
    out[i] = (x[i] - mean) * w;
  }
  return { signal: out, windowSum };
}
