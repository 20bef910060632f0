/**
 * Compares time-stretch / pitch-shift libraries for the `timescale` operator (issue 13):
 * frequency accuracy, duration accuracy, artifacts and CPU, for Lavalink's three knobs
 * (speed 1.25, pitch 1.5, rate 2), on 48 kHz stereo s16le in 20 ms frames — the way the
 * operator feeds them.
 *
 *   npx ts-node --transpile-only bench/timescaleCompare.ts
 *
 * Candidates are loaded from `TIMESCALE_CANDIDATES=<dir>` (a folder whose `node_modules`
 * holds them, e.g. `mkdir /tmp/c && cd /tmp/c && npm i @echogarden/sonic-wasm
 * rubberband-wasm signalsmith-stretch soundtouch-ts soundtouchjs @soundtouchjs/core`),
 * else from the repository; a candidate that is not installed is skipped. The ESM-only
 * ones need Node ≥ 20.19 (`require(esm)`). Results and the choice: `bench/timescale.md`.
 *
 * Measures (per candidate × setting):
 * - `f` — the output tone's frequency (Hann-windowed FFT peak, quadratic interpolation,
 *   on the steady middle second) vs the expected `440 · pitch · rate`;
 * - `dur` — output length after flush vs `input / (speed · rate)`, as an error in %;
 * - `THD+N` — energy outside ±20 Hz of the expected fundamental relative to it, dB (440 Hz
 *   tone, −6 dBFS);
 * - `AM` — amplitude wobble on the tone: peak-to-peak of the 10 ms RMS envelope over its
 *   mean, % (WSOLA/vocoder splices show up here);
 * - `spur` — music-like signal (a sustained 3-note chord, 6 harmonics each, with a
 *   re-attacked note every 250 ms): energy outside ±20 Hz of the expected partials relative
 *   to the energy near them, dB — lower is cleaner;
 * - `µs/frame` — CPU per 20 ms OUTPUT frame, stereo, including s16 ↔ float conversion,
 *   median of 5 runs after warm-up, on the tone and on `examples/assets/speech.mp3` (decoded
 *   with the bundled ffmpeg when present);
 * - `delay` — ms before the output's onset (streaming latency the kernel adds).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SAMPLE_RATE, SAMPLES_PER_FRAME } from '../src/core/audioFormat';
import { from } from 'rxjs';
import { TimeStretcher } from '../src/dsp/TimeStretcher';
import { timescale } from '../src/operators/timescale';

// The project's lib (ES2022, no DOM) has no WebAssembly typings: the few members used here.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmNamespace {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmNamespace }).WebAssembly;

const SR = SAMPLE_RATE;
const ROOT = join(__dirname, '..');
const CANDIDATES_DIR = process.env['TIMESCALE_CANDIDATES'] ?? ROOT;
const req = createRequire(join(CANDIDATES_DIR, 'package.json'));

interface Setting {
  label: string;
  speed: number;
  pitch: number;
  rate: number;
}
const SETTINGS: Setting[] = [
  { label: 'speed 1.25', speed: 1.25, pitch: 1, rate: 1 },
  { label: 'pitch 1.5', speed: 1, pitch: 1.5, rate: 1 },
  { label: 'rate 2', speed: 1, pitch: 1, rate: 2 },
];

/** A streaming stretcher as the operator would drive it: s16 interleaved stereo in and out. */
interface Stretcher {
  write(frame: Int16Array): void;
  /** All output available now (interleaved stereo int16). */
  read(): Int16Array;
  flush(): void;
  dispose(): void;
}
interface Candidate {
  name: string;
  pkg: string;
  license: string;
  create(s: Setting): Stretcher;
}

// ─── helpers ────────────────────────────────────────────────────────────────────────────

function concat(parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
function s16ToPlanar(frame: Int16Array, l: Float32Array, r: Float32Array): void {
  const n = frame.length >> 1;
  for (let i = 0; i < n; i++) {
    l[i] = frame[2 * i]! / 32768;
    r[i] = frame[2 * i + 1]! / 32768;
  }
}
function planarToS16(l: Float32Array, r: Float32Array, n: number): Int16Array {
  const out = new Int16Array(2 * n);
  for (let i = 0; i < n; i++) {
    out[2 * i] = clamp16(l[i]! * 32768);
    out[2 * i + 1] = clamp16(r[i]! * 32768);
  }
  return out;
}
function clamp16(x: number): number {
  const v = Math.round(x);
  return v > 32767 ? 32767 : v < -32768 ? -32768 : v;
}

// ─── candidates ─────────────────────────────────────────────────────────────────────────

/** rxvoice's kernel: soundtouch-ts stages in a fixed order plus an anti-alias low-pass. */
const rxvoice: Candidate = {
  name: 'rxvoice TimeStretcher (soundtouch-ts + AA, fixed order)',
  pkg: 'soundtouch-ts',
  license: 'LGPL-2.1 (soundtouch-ts) + MIT',
  create(s) {
    const t = new TimeStretcher(s);
    return { write: (f) => t.write(f), read: () => t.readAll(), flush: () => t.flush(), dispose: () => t.dispose() };
  },
};

/**
 * Sonic (`@echogarden/sonic-wasm`): its glue is an async ES module, so the 20 KB wasm is
 * instantiated here directly, export names read from the glue's table.
 */
interface SonicApi {
  memory: WasmMemory;
  malloc(bytes: number): number;
  free(ptr: number): void;
  sonicCreateStream(sr: number, ch: number): number;
  sonicDestroyStream(st: number): void;
  sonicSetSpeed(st: number, v: number): void;
  sonicSetPitch(st: number, v: number): void;
  sonicSetRate(st: number, v: number): void;
  sonicWriteShortToStream(st: number, ptr: number, n: number): number;
  sonicReadShortFromStream(st: number, ptr: number, n: number): number;
  sonicFlushStream(st: number): number;
}
let sonicApi: SonicApi | undefined;
function loadSonic(): SonicApi {
  if (sonicApi) return sonicApi;
  const dir = dirname(req.resolve('@echogarden/sonic-wasm/package.json'));
  const glue = readFileSync(join(dir, 'sonic.js'), 'utf8');
  const pick = (re: RegExp): string => {
    const m = re.exec(glue);
    if (!m?.[1]) throw new Error(`unrecognised sonic.js (${re.source})`);
    return m[1];
  };
  let memory: WasmMemory | undefined;
  const impl: Record<string, (...a: number[]) => number | undefined> = {
    __emscripten_memcpy_js: (d, s, n) => {
      new Uint8Array(memory!.buffer).copyWithin(d!, s!, s! + n!);
      return undefined;
    },
    _emscripten_resize_heap: (req) => {
      const cur = memory!.buffer.byteLength;
      memory!.grow(Math.ceil((Math.max(req! >>> 0, cur * 1.2) - cur) / 65536));
      return 1;
    },
  };
  const imports: Record<string, (...a: number[]) => number | undefined> = {};
  for (const e of pick(/wasmImports=\{([^}]*)\}/).split(',')) {
    const [k, v] = e.split(':');
    imports[k!] = impl[v!]!;
  }
  const mod = new WA.Module(readFileSync(join(dir, 'sonic.wasm')));
  const x = new WA.Instance(mod, { a: imports }).exports as Record<string, unknown>;
  memory = x[pick(/wasmMemory=wasmExports\["(\w+)"\]/)] as WasmMemory;
  (x[pick(/___wasm_call_ctors=wasmExports\["(\w+)"\]/)] as () => void)();
  const api: Record<string, unknown> = { memory };
  for (const fn of ['malloc', 'free', 'sonicCreateStream', 'sonicDestroyStream', 'sonicSetSpeed', 'sonicSetPitch', 'sonicSetRate', 'sonicWriteShortToStream', 'sonicReadShortFromStream', 'sonicFlushStream']) {
    api[fn] = x[pick(new RegExp(`_${fn}=Module\\["_${fn}"\\]=wasmExports\\["(\\w+)"\\]`))];
  }
  sonicApi = api as unknown as SonicApi;
  return sonicApi;
}
const sonic: Candidate = {
  name: 'Sonic (@echogarden/sonic-wasm)',
  pkg: '@echogarden/sonic-wasm',
  license: 'Apache-2.0',
  create(s) {
    const api = loadSonic();
    const st = api.sonicCreateStream(SR, 2);
    api.sonicSetSpeed(st, s.speed);
    api.sonicSetPitch(st, s.pitch);
    api.sonicSetRate(st, s.rate);
    const buf = api.malloc(16384 * 4);
    const pending: Int16Array[] = [];
    const drain = (): void => {
      for (;;) {
        const got = api.sonicReadShortFromStream(st, buf, 16384);
        if (got <= 0) return;
        pending.push(new Int16Array(api.memory.buffer, buf, 2 * got).slice());
      }
    };
    return {
      write(f) {
        new Int16Array(api.memory.buffer, buf, f.length).set(f);
        api.sonicWriteShortToStream(st, buf, f.length >> 1);
        drain();
      },
      read: () => concat(pending.splice(0)),
      flush() {
        api.sonicFlushStream(st);
        drain();
      },
      dispose() {
        api.sonicDestroyStream(st);
        api.free(buf);
      },
    };
  },
};

/** Rubber Band 3.3 (`rubberband-wasm`: a standalone WASI-style module with named exports). */
function rubberBand(engineFiner: boolean): Candidate {
  return {
    name: `Rubber Band 3.3 R${engineFiner ? 3 : 2} (${engineFiner ? 'finer' : 'faster'}) real-time`,
    pkg: 'rubberband-wasm',
    license: 'GPL-2.0 (commercial licence available)',
    create(s) {
      const file = join(dirname(req.resolve('rubberband-wasm/package.json')), 'dist', 'rubberband.wasm');
      const fail = (): number => 52;
      let memory: WasmMemory | undefined;
      const instance = new WA.Instance(new WA.Module(readFileSync(file)), {
        env: { emscripten_notify_memory_growth: () => undefined },
        wasi_snapshot_preview1: {
          fd_close: fail,
          proc_exit: fail,
          fd_seek: fail,
          fd_read: fail,
          environ_sizes_get: (a: number, b: number) => {
            const h = new Uint32Array(memory!.buffer);
            h[a >> 2] = 0;
            h[b >> 2] = 0;
            return 0;
          },
          environ_get: () => 0,
          clock_time_get: fail,
          fd_write: (_fd: number, iov: number, iovcnt: number, pnum: number) => {
            const h = new Uint32Array(memory!.buffer);
            let n = 0;
            for (let i = 0; i < iovcnt; i++) n += h[(iov >> 2) + 2 * i + 1]!;
            h[pnum >> 2] = n;
            return 0;
          },
        },
      });
      type Fn = (...a: number[]) => number;
      const x = instance.exports as Record<string, Fn> & { memory: WasmMemory; _initialize: () => void };
      memory = x.memory;
      x._initialize();
      const REALTIME = 0x1;
      const THREADING_NEVER = 0x10000;
      const PITCH_HQ = 0x02000000;
      const FINER = 0x20000000;
      const options = REALTIME | THREADING_NEVER | PITCH_HQ | (engineFiner ? FINER : 0);
      const st = x['rb_new']!(SR, 2, options, 1 / (s.speed * s.rate), s.pitch * s.rate);
      const N = 8192;
      const inL = x['wasm_malloc']!(N * 4);
      const inR = x['wasm_malloc']!(N * 4);
      const outL = x['wasm_malloc']!(N * 4);
      const outR = x['wasm_malloc']!(N * 4);
      const inPtrs = x['wasm_malloc']!(8);
      const outPtrs = x['wasm_malloc']!(8);
      const setPtrs = (): void => {
        const h = new Uint32Array(memory!.buffer);
        h[inPtrs >> 2] = inL;
        h[(inPtrs >> 2) + 1] = inR;
        h[outPtrs >> 2] = outL;
        h[(outPtrs >> 2) + 1] = outR;
      };
      setPtrs();
      const pending: Int16Array[] = [];
      const drain = (): void => {
        for (;;) {
          const avail = x['rb_available']!(st);
          if (avail <= 0) return;
          const got = x['rb_retrieve']!(st, outPtrs, Math.min(avail, N));
          const b = memory!.buffer;
          pending.push(planarToS16(new Float32Array(b, outL, got), new Float32Array(b, outR, got), got));
        }
      };
      const feed = (frame: Int16Array, final: boolean): void => {
        const n = frame.length >> 1;
        const b = memory!.buffer;
        s16ToPlanar(frame, new Float32Array(b, inL, n), new Float32Array(b, inR, n));
        x['rb_process']!(st, inPtrs, n, final ? 1 : 0);
        drain();
      };
      return {
        write: (f) => feed(f, false),
        read: () => concat(pending.splice(0)),
        flush: () => feed(new Int16Array(0), true),
        dispose: () => x['rb_delete']!(st),
      };
    },
  };
}

/**
 * Signalsmith Stretch 1.3 (MIT). The npm build only exposes a Web Audio node; its inner
 * Emscripten module is reached by evaluating the file with the outer wrapper bypassed —
 * acceptable for a benchmark, not for shipping (see timescale.md).
 */
function signalsmith(): Candidate {
  return {
    name: 'Signalsmith Stretch 1.3 (default preset)',
    pkg: 'signalsmith-stretch',
    license: 'MIT',
    create() {
      throw new Error('async: use createAsync');
    },
  };
}
interface SignalsmithModule {
  HEAP8: Int8Array;
  _main(): void;
  _presetDefault(ch: number, sr: number): void;
  _presetCheaper(ch: number, sr: number): void;
  _setBuffers(ch: number, len: number): number;
  _inputLatency(): number;
  _outputLatency(): number;
  _process(inN: number, outN: number): void;
  _setTransposeFactor(f: number, tonality: number): void;
  _reset(): void;
}
async function loadSignalsmith(): Promise<SignalsmithModule | undefined> {
  let file: string;
  try {
    file = req.resolve('signalsmith-stretch');
  } catch {
    return undefined;
  }
  const src = readFileSync(file.replace(/\.mjs$/, '.js'), 'utf8');
  const cut = src.indexOf('function registerWorkletProcessor');
  const factorySrc = src.slice(0, cut) + '\nreturn SignalsmithStretch;';
  const factory = new Function(factorySrc)() as () => Promise<SignalsmithModule>;
  const m = await factory();
  m._main();
  return m;
}
function signalsmithStretcher(m: SignalsmithModule, s: Setting, cheaper: boolean): Stretcher {
  if (cheaper) m._presetCheaper(2, SR);
  else m._presetDefault(2, SR);
  const inLat = m._inputLatency();
  const outLat = m._outputLatency();
  const len = 8192;
  const ptr = m._setBuffers(2, len);
  m._reset();
  m._setTransposeFactor(s.pitch * s.rate, 8000 / SR);
  const ratio = s.speed * s.rate; // input samples per output sample
  const pending: Int16Array[] = [];
  let inQueue: Int16Array[] = [];
  let queued = 0;
  let outFrac = 0;
  let fed = 0;
  let produced = 0;
  const f32 = (c: number): Float32Array => new Float32Array(m.HEAP8.buffer, ptr + 4 * len * c, len);
  const run = (n: number): void => {
    // n input samples (per channel) taken from the queue
    const all = concat(inQueue);
    const use = all.subarray(0, 2 * n);
    inQueue = [all.subarray(2 * n)];
    queued -= n;
    s16ToPlanar(use, f32(0), f32(1));
    outFrac += n / ratio;
    const outN = Math.floor(outFrac);
    outFrac -= outN;
    m._process(n, outN);
    fed += n;
    produced += outN;
    pending.push(planarToS16(f32(2), f32(3), outN));
  };
  return {
    write(frame) {
      inQueue.push(frame);
      queued += frame.length >> 1;
      while (queued >= 960) run(960);
    },
    read: () => {
      // trim the initial latency (input + output) so the timeline lines up
      const out = concat(pending.splice(0));
      return out;
    },
    flush() {
      const tail = Math.ceil((inLat + outLat) * ratio) + 960;
      this.write(new Int16Array(2 * tail));
      void fed;
      void produced;
    },
    dispose: () => undefined,
  };
}

/** soundtouch-ts 1.1 (LGPL-2.1, CommonJS, TypeScript port of SoundTouchJS 0.1). */
function soundtouchTs(): Candidate {
  return {
    name: 'SoundTouch (soundtouch-ts 1.1, JS)',
    pkg: 'soundtouch-ts',
    license: 'LGPL-2.1',
    create(s) {
      const mod = req('soundtouch-ts') as { SoundTouch: new (sr: number) => SoundTouchLike };
      const st = new mod.SoundTouch(SR);
      st.tempo = s.speed;
      st.pitch = s.pitch;
      st.rate = s.rate;
      return soundTouchStretcher(st, () => st.process());
    },
  };
}
interface FifoLike {
  putSamples(samples: Float32Array, position?: number, numFrames?: number): void;
  extract(out: Float32Array, position: number, n: number): void;
  receive(n: number): void;
  frameCount: number;
}
interface SoundTouchLike {
  tempo: number;
  pitch: number;
  rate: number;
  inputBuffer: FifoLike;
  outputBuffer: FifoLike;
  process(): void;
}
function soundTouchStretcher(st: { inputBuffer: FifoLike; outputBuffer: FifoLike }, process: () => void): Stretcher {
  const pending: Int16Array[] = [];
  let buf = new Float32Array(4096);
  const drain = (): void => {
    const n = st.outputBuffer.frameCount;
    if (n === 0) return;
    if (buf.length < 2 * n) buf = new Float32Array(2 * n);
    st.outputBuffer.extract(buf, 0, n);
    st.outputBuffer.receive(n);
    const out = new Int16Array(2 * n);
    for (let i = 0; i < 2 * n; i++) out[i] = clamp16(buf[i]! * 32768);
    pending.push(out);
  };
  const inBuf = new Float32Array(2 * SAMPLES_PER_FRAME);
  const write = (frame: Int16Array): void => {
    const n = frame.length >> 1;
    for (let i = 0; i < 2 * n; i++) inBuf[i] = frame[i]! / 32768;
    st.inputBuffer.putSamples(inBuf, 0, n);
    process();
    drain();
  };
  return {
    write,
    read: () => concat(pending.splice(0)),
    flush() {
      // SoundTouch has no flush in the JS ports: push silence through, as SoundTouch::flush() does.
      for (let i = 0; i < 12; i++) write(new Int16Array(2 * SAMPLES_PER_FRAME));
    },
    dispose: () => undefined,
  };
}
/** soundtouchjs 0.3 (LGPL-2.1, ESM). */
function soundtouchJs(): Candidate {
  return {
    name: 'SoundTouch (soundtouchjs 0.3, JS)',
    pkg: 'soundtouchjs',
    license: 'LGPL-2.1',
    create(s) {
      const mod = req('soundtouchjs') as { SoundTouch: new (sr?: number) => SoundTouchLike };
      const st = new mod.SoundTouch(SR);
      st.tempo = s.speed;
      st.pitch = s.pitch;
      st.rate = s.rate;
      return soundTouchStretcher(st, () => st.process());
    },
  };
}
/** @soundtouchjs/core 2.1 (MPL-2.0, ESM): only `pitch` is public; tempo/rate set on the stages. */
function soundtouchCore(): Candidate {
  return {
    name: 'SoundTouch (@soundtouchjs/core 2.1, JS, Lanczos)',
    pkg: '@soundtouchjs/core',
    license: 'MPL-2.0',
    create(s) {
      interface Core {
        pitch: number;
        stretch: { tempo: number };
        inputBuffer: FifoLike;
        outputBuffer: FifoLike;
        process(): void;
      }
      const mod = req('@soundtouchjs/core') as { SoundTouch: new (o: { sampleRate: number }) => Core };
      const st = new mod.SoundTouch({ sampleRate: SR });
      st.pitch = s.pitch * s.rate; // sets the transposer rate and stage order
      st.stretch.tempo = s.speed / s.pitch; // SoundTouch's effective tempo
      return soundTouchStretcher(st, () => st.process());
    },
  };
}

// ─── signals and measures ───────────────────────────────────────────────────────────────

function tone(seconds: number, hz: number, amp = 0.5): Int16Array {
  const n = Math.round(seconds * SR);
  const out = new Int16Array(2 * n);
  for (let i = 0; i < n; i++) {
    const v = Math.round(amp * 32767 * Math.sin((2 * Math.PI * hz * i) / SR));
    out[2 * i] = v;
    out[2 * i + 1] = v;
  }
  return out;
}
const CHORD = [220, 277.18, 329.63];
const HARMONICS = 6;
/** A sustained A-major chord (6 harmonics per note, 1/k amplitude); the top note re-attacks every 250 ms. */
function music(seconds: number): Int16Array {
  const n = Math.round(seconds * SR);
  const out = new Int16Array(2 * n);
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    let v = 0;
    CHORD.forEach((f, k) => {
      const env = k === 2 ? 0.4 + 0.6 * Math.exp(-((t % 0.25) / 0.06)) : 1;
      for (let h = 1; h <= HARMONICS; h++) v += (env / h) * Math.sin(2 * Math.PI * f * h * t + h * k);
    });
    const s = Math.round(0.12 * 32767 * v);
    out[2 * i] = s;
    out[2 * i + 1] = s;
  }
  return out;
}
function left(pcm: Int16Array): Float64Array {
  const n = pcm.length >> 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = pcm[2 * i]! / 32768;
  return out;
}

/** In-place radix-2 FFT. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j]!, re[i]!];
      [im[i], im[j]] = [im[j]!, im[i]!];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
        const t = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = t;
      }
    }
  }
}
const FFT_N = 65536;
/** Power spectrum (Hann) of `FFT_N` samples centred on the signal's middle. */
function spectrum(x: Float64Array): Float64Array {
  const start = Math.max(0, Math.floor(x.length / 2 - FFT_N / 2));
  const re = new Float64Array(FFT_N);
  const im = new Float64Array(FFT_N);
  for (let i = 0; i < FFT_N; i++) {
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (FFT_N - 1));
    re[i] = (x[start + i] ?? 0) * w;
  }
  fft(re, im);
  const p = new Float64Array(FFT_N / 2);
  for (let i = 0; i < FFT_N / 2; i++) p[i] = re[i]! * re[i]! + im[i]! * im[i]!;
  return p;
}
const BIN = SR / FFT_N;
function peakHz(p: Float64Array): number {
  let k = 1;
  for (let i = 2; i < p.length - 1; i++) if (p[i]! > p[k]!) k = i;
  const a = Math.log(p[k - 1]! + 1e-30);
  const b = Math.log(p[k]! + 1e-30);
  const c = Math.log(p[k + 1]! + 1e-30);
  return (k + (0.5 * (a - c)) / (a - 2 * b + c)) * BIN;
}
/** 10·log10(energy outside ±20 Hz of `partials` / energy inside). */
function spurDb(p: Float64Array, partials: number[]): number {
  let inside = 0;
  let total = 0;
  const near = new Uint8Array(p.length);
  for (const f of partials) {
    const lo = Math.max(0, Math.floor((f - 20) / BIN));
    const hi = Math.min(p.length - 1, Math.ceil((f + 20) / BIN));
    for (let i = lo; i <= hi; i++) near[i] = 1;
  }
  for (let i = Math.ceil(40 / BIN); i < p.length; i++) {
    total += p[i]!;
    if (near[i]) inside += p[i]!;
  }
  return 10 * Math.log10((total - inside) / inside);
}
/** Peak-to-peak of the RMS envelope (20 ms Hann windows, 5 ms hop) over its mean, on the middle 60 %. */
function amWobble(x: Float64Array): number {
  const blk = SR / 50;
  const w = Float64Array.from({ length: blk }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / blk));
  const wsum = w.reduce((a, b) => a + b, 0);
  const rms: number[] = [];
  for (let s = Math.floor(x.length * 0.2); s + blk <= x.length * 0.8; s += blk / 4) {
    let e = 0;
    for (let i = 0; i < blk; i++) e += w[i]! * x[s + i]! * x[s + i]!;
    rms.push(Math.sqrt(e / wsum));
  }
  const mean = rms.reduce((a, b) => a + b, 0) / rms.length;
  return (Math.max(...rms) - Math.min(...rms)) / mean;
}
function onsetMs(x: Float64Array, threshold: number): number {
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]!) > threshold) return (i / SR) * 1000;
  return NaN;
}
function offsetMs(x: Float64Array, threshold: number): number {
  for (let i = x.length - 1; i >= 0; i--) if (Math.abs(x[i]!) > threshold) return ((i + 1) / SR) * 1000;
  return NaN;
}

function frames(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let o = 0; o + 2 * SAMPLES_PER_FRAME <= pcm.length; o += 2 * SAMPLES_PER_FRAME) out.push(pcm.subarray(o, o + 2 * SAMPLES_PER_FRAME));
  return out;
}
function run(make: () => Stretcher, input: Int16Array[]): { out: Int16Array; ms: number } {
  const st = make();
  const parts: Int16Array[] = [];
  const t0 = performance.now();
  for (const f of input) {
    st.write(f);
    parts.push(st.read());
  }
  const ms = performance.now() - t0;
  st.flush();
  parts.push(st.read());
  st.dispose();
  return { out: concat(parts), ms };
}
function cpuUsPerOutFrame(make: () => Stretcher, input: Int16Array[], s: Setting): number {
  run(make, input.slice(0, 100)); // warm-up
  const times: number[] = [];
  for (let r = 0; r < 5; r++) times.push(run(make, input).ms);
  times.sort((a, b) => a - b);
  const outFrames = input.length / (s.speed * s.rate);
  return (times[2]! * 1000) / outFrames;
}

function loadSpeech(): Int16Array[] | undefined {
  let ffmpeg: string | undefined;
  try {
    ffmpeg = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    ffmpeg = 'ffmpeg';
  }
  const file = join(ROOT, 'examples', 'assets', 'speech.mp3');
  if (!existsSync(file)) return undefined;
  const r = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-f', 's16le', '-ar', String(SR), '-ac', '2', '-'], {
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0 || !r.stdout) return undefined;
  const b = r.stdout;
  return frames(new Int16Array(b.buffer, b.byteOffset, b.byteLength >> 1));
}

// ─── main ───────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const toneIn = frames(tone(4, 440));
  const musicIn = frames(music(4));
  const speech = loadSpeech();
  const ss = await loadSignalsmith().catch((e: unknown) => {
    console.error('signalsmith-stretch:', e instanceof Error ? e.message : e);
    return undefined;
  });
  const candidates: Candidate[] = [rxvoice, sonic, soundtouchTs(), soundtouchJs(), soundtouchCore(), rubberBand(false), rubberBand(true)];
  if (ss) {
    candidates.push({ ...signalsmith(), create: (s) => signalsmithStretcher(ss, s, false) });
    candidates.push({ ...signalsmith(), name: 'Signalsmith Stretch 1.3 (cheaper preset)', create: (s) => signalsmithStretcher(ss, s, true) });
  }

  console.log(
    `| library | license | setting | f (Hz) | f err | dur err | THD+N (dB) | AM | music spur (dB) | alias (dB) | delay (ms) | µs/frame tone | µs/frame speech |`,
  );
  console.log(`|---|---|---|---|---|---|---|---|---|---|---|---|---|`);
  const only = process.argv[2]?.toLowerCase(); // e.g. `soundtouch`: run the matching candidates only
  for (const c of candidates.filter((k) => !only || k.name.toLowerCase().includes(only))) {
    for (const s of SETTINGS) {
      let make: () => Stretcher;
      try {
        make = () => c.create(s);
        make().dispose();
      } catch (e) {
        console.log(`| ${c.name} | ${c.license} | ${s.label} | not available: ${e instanceof Error ? e.message.split('\n')[0] : String(e)} |`);
        break;
      }
      try {
        measure(c, s, make, toneIn, musicIn, speech);
      } catch (e) {
        console.log(`| ${c.name} | ${c.license} | ${s.label} | FAILED: ${e instanceof Error ? e.message.split('\n')[0] : String(e)} |`);
      }
    }
  }
  operatorCost(speech ?? toneIn);
}

/** The `timescale` operator end to end (RxJS, re-framing, tags, Buffer allocation), µs per output frame. */
function operatorCost(input: Int16Array[]): void {
  const buffers = input.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength));
  console.log(`\n| timescale operator (end to end) | µs per 20 ms output frame (median of 5) | output frames |`);
  console.log(`|---|---|---|`);
  for (const s of [...SETTINGS, { label: 'nightcore speed 1.2 pitch 1.2', speed: 1.2, pitch: 1.2, rate: 1 }, { label: 'vaporwave speed 0.8 pitch 0.8', speed: 0.8, pitch: 0.8, rate: 1 }]) {
    const times: number[] = [];
    let frames = 0;
    for (let r = 0; r < 6; r++) {
      frames = 0;
      const t0 = performance.now();
      from(buffers)
        .pipe(timescale({ speed: s.speed, pitch: s.pitch, rate: s.rate }))
        .subscribe(() => frames++);
      if (r > 0) times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(`| ${s.label} | ${((times[2]! * 1000) / frames).toFixed(0)} | ${frames} |`);
  }
}

function measure(c: Candidate, s: Setting, make: () => Stretcher, toneIn: Int16Array[], musicIn: Int16Array[], speech: Int16Array[] | undefined): void {
  {
    {
      const expectHz = 440 * s.pitch * s.rate;
      const { out } = run(make, toneIn);
      const x = left(out);
      // the tone's audible span (onset → offset) vs input / (speed · rate): independent of
      // how much silence a flush appends
      const expectMs = (toneIn.length * 20) / (s.speed * s.rate);
      const durErr = ((offsetMs(x, 0.05) - onsetMs(x, 0.05) - expectMs) / expectMs) * 100;
      const p = spectrum(x);
      const hz = peakHz(p);
      const thdn = spurDb(p, [expectHz]);
      const am = amWobble(x);
      const delay = onsetMs(x, 0.05);
      const m = left(run(make, musicIn).out);
      const partials = CHORD.flatMap((f) => Array.from({ length: HARMONICS }, (_, h) => f * (h + 1) * s.pitch * s.rate));
      const spur = spurDb(spectrum(m), partials);
      // aliasing: a high tone that the pitch change moves above 24 kHz (36 kHz, or 30 kHz
      // for pitch 1.5) should vanish; without an anti-alias filter it folds back to 12 (18) kHz
      const transpose = s.pitch * s.rate;
      let alias = NaN;
      if (transpose > 1) {
        const hf = Math.min(20_000, 36_000 / transpose);
        const hin = left(tone(2, hf));
        const hout = left(run(make, frames(tone(2, hf))).out);
        const energy = (v: Float64Array): number => v.slice(v.length >> 2, (3 * v.length) >> 2).reduce((a, b) => a + b * b, 0) / (v.length >> 1);
        alias = 10 * Math.log10(energy(hout) / energy(hin));
      }
      const cpuTone = cpuUsPerOutFrame(make, toneIn, s);
      const cpuSpeech = speech ? cpuUsPerOutFrame(make, speech, s) : NaN;
      console.log(
        `| ${c.name} | ${c.license} | ${s.label} | ${hz.toFixed(2)} | ${(hz - expectHz).toFixed(2)} | ${durErr.toFixed(2)} % | ${thdn.toFixed(1)} | ${(am * 100).toFixed(1)} % | ${spur.toFixed(1)} | ${Number.isNaN(alias) ? 'n/a' : alias.toFixed(1)} | ${delay.toFixed(1)} | ${cpuTone.toFixed(0)} | ${cpuSpeech.toFixed(0)} |`,
      );
    }
  }
}

void main();
