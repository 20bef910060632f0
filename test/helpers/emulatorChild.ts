/**
 * The emulator in a child process, for tests that block the test's own main thread (an
 * in-process emulator would stall with it and misreport the timing). Started by
 * `startEmulatorChild()`; IPC: ← `{ id, cmd: 'register', creds }` | `{ id, cmd: 'received', userId }`
 * | `{ cmd: 'close' }`; → `{ ready: wsUrl }` | `{ id, result }`.
 */
import { fork } from 'node:child_process';
import { startVoiceServer } from '../../src/testing';
import type { ReceivedStream } from '../../src/testing';

type Summary = Omit<ReceivedStream, 'pcm' | 'payloads'>;

if (require.main === module) {
  void (async () => {
    const server = await startVoiceServer({ decode: false, dave: process.env.EMU_DAVE === '1' });
    process.on('message', (m: { id: number; cmd: string; creds?: Parameters<typeof server.registerSession>[0]; userId?: string }) => {
      if (m.cmd === 'close') {
        void server.close().then(() => process.exit(0));
        return;
      }
      if (m.cmd === 'register' && m.creds) server.registerSession(m.creds);
      let result: Summary | null = null;
      if (m.cmd === 'received' && m.userId) {
        const r = server.receivedFrom(m.userId);
        if (r) {
          const { pcm: _p, payloads: _q, ...rest } = r;
          result = rest;
        }
      }
      process.send?.({ id: m.id, result });
    });
    process.send?.({ ready: server.wsUrl });
  })();
}

/** The emulator child: its gateway URL, `register`, `received` (without audio) and `close`. */
export interface EmulatorChild {
  wsUrl: string;
  register(creds: { serverId: string; userId: string; sessionId: string; token: string }): Promise<void>;
  received(userId: string): Promise<Summary | null>;
  close(): Promise<void>;
}

export function startEmulatorChild(): Promise<EmulatorChild> {
  const child = fork(__filename, [], { execArgv: ['-r', 'ts-node/register/transpile-only'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let next = 1;
  const waiting = new Map<number, (r: unknown) => void>();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.on('message', (m: { ready?: string; id?: number; result?: unknown }) => {
      if (m.ready) {
        const call = (msg: object): Promise<unknown> =>
          new Promise((res) => {
            const id = next++;
            waiting.set(id, res);
            child.send({ ...msg, id });
          });
        resolve({
          wsUrl: m.ready,
          register: async (creds) => void (await call({ cmd: 'register', creds })),
          received: async (userId) => (await call({ cmd: 'received', userId })) as Summary | null,
          close: () =>
            new Promise<void>((res) => {
              child.once('exit', () => res());
              child.send({ cmd: 'close' });
            }),
        });
      } else if (m.id !== undefined) {
        waiting.get(m.id)?.(m.result);
        waiting.delete(m.id);
      }
    });
  });
}
