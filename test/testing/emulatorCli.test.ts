import { spawn } from 'node:child_process';
import * as path from 'node:path';
import WebSocket from 'ws';

test('npm run emulator: starts, accepts a client, prints events, stops on SIGINT', async () => {
  const root = path.resolve(__dirname, '../..');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/testing/cli.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ws line in ${out}`)), 20000);
      child.stdout.on('data', () => {
        const m = /ws:\s+(ws:\/\/\S+)/.exec(out);
        if (m) {
          clearTimeout(t);
          resolve(m[1]);
        }
      });
    });
    const ws = new WebSocket(url);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ op: 0, d: { server_id: 'g', user_id: 'cli-user', session_id: 's', token: 't' } }));
    await new Promise((r) => ws.once('message', r));
    await new Promise((r) => setTimeout(r, 200));
    ws.close(1000);
    await new Promise((r) => setTimeout(r, 200));
    expect(out).toMatch(/identify\s+userId=cli-user/);
  } finally {
    child.kill('SIGINT');
  }
  expect(await exited).toBe(0);
}, 30000);

describe('runEmulator (in process)', () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, push: (l: string) => void lines.push(l) };
  };

  test('an unknown option or a bad --channel: exit 2 with the usage, no server started', async () => {
    const { runEmulator } = await import('../../src/testing/cli');
    for (const argv of [['--bogus'], ['--channel', 'general'], ['extra']]) {
      const out = collect();
      const err = collect();
      await expect(runEmulator(argv, {}, out.push, err.push)).resolves.toBe(2);
      expect(out.lines).toEqual([]);
      expect(err.lines.join('\n')).toMatch(/rxvoice emulator: /);
    }
  });

  test('--dave --channel ID: clients whose channelId differs from their serverId get DAVE (the MLS group id is the channel)', async () => {
    const { runEmulator } = await import('../../src/testing/cli');
    const { connectVoice } = await import('../../src');
    const { firstValueFrom } = await import('rxjs');
    const channelId = '1000000000000000002';
    const out = collect();
    const done = runEmulator(['--dave', '--require-dave', '--channel', channelId], {}, out.push, out.push);
    const conns: Array<{ destroy(): void }> = [];
    try {
      let url: string | undefined;
      for (let i = 0; i < 200 && !url; i++) {
        url = out.lines.map((l) => /^\s+ws:\s+(ws:\/\/\S+)/.exec(l)?.[1]).find(Boolean);
        if (!url) await new Promise((r) => setTimeout(r, 25));
      }
      expect(out.lines.join('\n')).toContain(`DAVE: MLS group id ${channelId}`);
      const users = ['1000000000000000011', '1000000000000000012'];
      const clients = users.map((userId, i) =>
        connectVoice({ endpoint: url!, serverId: '1000000000000000009', channelId, userId, sessionId: `s${i}`, token: `t${i}` }),
      );
      conns.push(...clients);
      let states: string[] = [];
      for (let i = 0; i < 200; i++) {
        states = await Promise.all(clients.map(async (c) => (await firstValueFrom(c.dave$)).status));
        if (states.every((s) => s === 'active')) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(states).toEqual(['active', 'active']);
    } finally {
      for (const c of conns) c.destroy();
      process.emit('SIGINT');
    }
    await expect(done).resolves.toBe(0);
  }, 30_000);
});
