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
