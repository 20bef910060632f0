import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Config of test/conformance/djsClient.js (see the header of that file). */
export interface DjsClientConfig {
  endpoint: string;
  guildId: string;
  channelId: string;
  userId: string;
  sessionId: string;
  token: string;
  action: 'play' | 'listen';
  frequency?: number;
  durationMs?: number;
  amplitude?: number;
  listenUserId?: string;
  listenMs?: number;
  idleMs?: number;
  outFile?: string;
  timeoutMs?: number;
  debug?: boolean;
  /** After Ready, wait up to this long for a DAVE privacy code before the action. */
  waitForDaveMs?: number;
}

/** One JSON line the child printed. */
export interface DjsLine {
  event: string;
  t: number;
  [key: string]: unknown;
}

export interface DjsRunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: DjsLine[];
  stderr: string;
}

export interface DjsChild {
  /** Resolves with the first line of this event (rejects if the child exits first). */
  waitFor(event: string): Promise<DjsLine>;
  /** Resolves when the child exits. */
  readonly exited: Promise<DjsRunResult>;
  /** Kills the child (SIGKILL) if still running. */
  kill(): void;
}

const CLIENT = path.join(__dirname, 'djsClient.js');
const BLOCK_SODIUM = pathToFileURL(path.join(__dirname, 'blockSodium.mjs')).href;

/**
 * Starts @discordjs/voice in a child process (plain `node`, wss:// accepted with the emulator's
 * self-signed certificate). `blockSodium` registers the loader hook that makes it fall back to
 * @noble/ciphers for XChaCha20-Poly1305.
 */
export function startDjsClient(config: DjsClientConfig, opts: { blockSodium: boolean }): DjsChild {
  const args = [...(opts.blockSodium ? ['--import', BLOCK_SODIUM] : []), CLIENT, JSON.stringify(config)];
  const child = spawn(process.execPath, args, {
    cwd: path.join(__dirname, '..', '..'),
    env: { ...process.env, NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: DjsLine[] = [];
  const waiters: { event: string; resolve: (l: DjsLine) => void; reject: (e: Error) => void }[] = [];
  let stderr = '';
  let partial = '';
  let done: DjsRunResult | null = null;

  const onLine = (text: string): void => {
    if (!text.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      stderr += `[non-JSON stdout] ${text}\n`;
      return;
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { event?: unknown }).event !== 'string') return;
    const line = parsed as DjsLine;
    lines.push(line);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].event === line.event) {
        waiters[i].resolve(line);
        waiters.splice(i, 1);
      }
    }
  };

  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    partial += chunk;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const p of parts) onLine(p);
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });

  const exited = new Promise<DjsRunResult>((resolve) => {
    child.on('close', (code, signal) => {
      if (partial) onLine(partial);
      done = { code, signal, lines, stderr };
      for (const w of waiters.splice(0)) w.reject(new Error(`djsClient exited (${code}) before "${w.event}"\n${describeRun(done)}`));
      resolve(done);
    });
  });

  return {
    waitFor(event: string): Promise<DjsLine> {
      const seen = lines.find((l) => l.event === event);
      if (seen) return Promise.resolve(seen);
      if (done) return Promise.reject(new Error(`djsClient exited before "${event}"\n${describeRun(done)}`));
      return new Promise((resolve, reject) => waiters.push({ event, resolve, reject }));
    },
    exited,
    kill(): void {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The child's output, for assertion messages. */
export function describeRun(run: DjsRunResult): string {
  const out = run.lines
    .filter((l) => l.event !== 'debug')
    .map((l) => JSON.stringify(l))
    .join('\n');
  return `exit ${run.code ?? run.signal}\n--- stdout ---\n${out}\n--- stderr ---\n${run.stderr}`;
}

/** The first line of `event`, or throws with the whole run in the message. */
export function lineOf(run: DjsRunResult, event: string): DjsLine {
  const line = run.lines.find((l) => l.event === event);
  if (!line) throw new Error(`no "${event}" line\n${describeRun(run)}`);
  return line;
}
