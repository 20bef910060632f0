/** Starting the emulator and client child processes (plain node on the transpiled JS). */
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClientConfig, ClientResult } from '../clientProcess';
import type { EmulatorReport, SpeakPlan } from '../emulatorProcess';
import { JS_DIR } from './build';

/** The directory of the ffmpeg binary rxvoice found, put first on PATH for @discordjs/voice (prism ignores FFMPEG_PATH). */
export function childEnv(ffmpeg: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_TLS_REJECT_UNAUTHORIZED: '0',
    NODE_NO_WARNINGS: '1',
    // Both libraries' processes use this ffmpeg: rxvoice through FFMPEG_PATH, prism-media (djs) through PATH.
    FFMPEG_PATH: ffmpeg,
    PATH: `${path.dirname(ffmpeg)}${path.delimiter}${process.env.PATH ?? ''}`,
  };
}

/**
 * The ffmpeg the bench runs: `FFMPEG_PATH` when set, else the bundled `@ffmpeg-installer`
 * binary (4.1) even when another ffmpeg is on PATH, so runs stay comparable with earlier ones
 * (a system ffmpeg 5.1 on PATH changed the transcode figures of both libraries by 1.4–2.5×),
 * else whatever `findFfmpeg()` finds.
 */
export function benchFfmpeg(findFfmpeg: () => string): string {
  if (process.env.FFMPEG_PATH) return process.env.FFMPEG_PATH;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
  } catch {
    return findFfmpeg();
  }
}

export interface Emulator {
  endpoint: string;
  pid: number;
  report(prefix: string, window: { start: number; end: number } | null): Promise<EmulatorReport>;
  reset(): Promise<void>;
  /** Simulated users talk to the clients of their guild; resolves when all are done, with each one's first-frame time (CLOCK_MONOTONIC ms). */
  speak(plans: SpeakPlan[]): Promise<Record<string, number>>;
  close(): Promise<void>;
}

export async function startEmulator(config: { sampleEvery?: number; dave?: boolean }, env: NodeJS.ProcessEnv): Promise<Emulator> {
  const child = fork(path.join(JS_DIR, 'bench', 'emulatorProcess.js'), [JSON.stringify(config)], {
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--max-old-space-size=4096'],
  });
  // The emulator is the measuring instrument: keep other processes on the machine from
  // delaying its receive timestamps (needs root / CAP_SYS_NICE; otherwise left as it is).
  try {
    if (child.pid) os.setPriority(child.pid, EMULATOR_PRIORITY);
  } catch {
    // not permitted
  }
  let nextId = 1;
  const pending = new Map<number, (m: { report?: EmulatorReport; firstFrameAt?: Record<string, number> }) => void>();
  const ready = new Promise<{ endpoint: string; pid: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code}`)));
    child.on('message', (m: { type: string; id?: number; endpoint?: string; pid?: number; report?: EmulatorReport; firstFrameAt?: Record<string, number> }) => {
      if (m.type === 'ready') resolve({ endpoint: m.endpoint!, pid: m.pid! });
      else if (m.id !== undefined) {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      }
    });
  });
  const { endpoint, pid } = await ready;
  // A call to an emulator that died answers empty rather than waiting forever.
  child.once('exit', () => {
    for (const answer of pending.values()) answer({});
    pending.clear();
  });
  const call = (msg: Record<string, unknown>): Promise<{ report?: EmulatorReport; firstFrameAt?: Record<string, number> }> =>
    new Promise((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      child.send({ ...msg, id });
    });
  return {
    endpoint,
    pid,
    report: async (prefix, window) => (await call({ cmd: 'report', prefix, window })).report!,
    reset: async () => void (await call({ cmd: 'reset' })),
    speak: async (speakers) => (await call({ cmd: 'speak', speakers })).firstFrameAt ?? {},
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.send({ cmd: 'close' });
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** Scheduling priority (nice) of the client processes; the emulator gets EMULATOR_PRIORITY. */
export const CLIENT_PRIORITY = -5;
export const EMULATOR_PRIORITY = -10;

export interface ClientRun {
  result: ClientResult | null;
  exitCode: number | null;
  stderr: string;
}

/**
 * Forks a measured process (`bench/<script>.js` in the transpiled tree) with `config` as its
 * argument, stderr piped, IPC on, at {@link CLIENT_PRIORITY}: both libraries' clients and the
 * Lavalink node run a little above other work on the machine (the emulator, the measuring
 * instrument, runs at −10), so foreign load disturbs the comparison less.
 * `threads`: RXVOICE_THREADS for the child (undefined: rxvoice's default, the number of cores).
 */
export function forkMeasured(script: string, config: unknown, env: NodeJS.ProcessEnv, execArgv: string[], threads?: number): ChildProcess {
  const childEnvironment = { ...env };
  delete childEnvironment.RXVOICE_THREADS;
  if (threads !== undefined) childEnvironment.RXVOICE_THREADS = String(threads);
  const child = fork(path.join(JS_DIR, 'bench', `${script}.js`), [JSON.stringify(config)], {
    env: childEnvironment,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    execArgv: ['--max-old-space-size=4096', ...execArgv],
  });
  try {
    if (child.pid) os.setPriority(child.pid, CLIENT_PRIORITY);
  } catch {
    // not permitted: default priority
  }
  return child;
}

/** Runs one client process to the end. `execArgv`: e.g. `--cpu-prof`. */
export function runClient(config: ClientConfig, env: NodeJS.ProcessEnv, execArgv: string[] = [], timeoutMs = 300_000): Promise<ClientRun> {
  return new Promise((resolve) => {
    // rxvoice's driver threads: RXVOICE_THREADS only when the run asks for a number (the client
    // applies it again, and through configureVoiceDriver when that is exported).
    const child = forkMeasured('clientProcess', config, env, execArgv, config.threads);
    let result: ClientResult | null = null;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child.on('message', (m: ClientResult) => {
      if (m.type === 'result') result = m;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ result, exitCode: code, stderr });
    });
  });
}
