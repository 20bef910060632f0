/**
 * The rxvoice Lavalink node of the `lavalink` scenario, in a process of its own (measured as
 * the client processes are: its CPU — all threads, the voice driver's workers included — and
 * its ffmpeg children's, its RSS). Driven from outside by `bench/lib/lavalinkDriver.ts` over
 * the node's own WebSocket and REST API, as a Lavalink client would.
 *
 *   startLavalinkNode({ port: 0, address: '127.0.0.1', password, statsIntervalMs, dave })
 *
 * Its CPU is read from the orchestrator (/proc/<pid>, `procTreeCpuMs`), not asked for over
 * IPC: a node whose main thread is saturated is still measured on time.
 * IPC (`process.send`): → `{ type: 'ready', port, pid }`; ← `{ cmd: 'close', id }` →
 * `node.close()` (every session and player ends, ffmpeg children are killed), then
 * `{ type: 'closed', id, peakRssMb }` and exit.
 * Config: argv[2] JSON (`LavalinkProcessConfig`).
 */
import { startLavalinkNode } from '../src/server/lavalink';
import { liveChildPids, sleep } from './lib/common';

export interface LavalinkProcessConfig {
  password: string;
  /** ms between `stats` ops (Lavalink's default is 60 s; the bench wants frameStats often). */
  statsIntervalMs: number;
  /** DAVE on the node's voice connections (the bench's emulator runs without it). */
  dave: boolean;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2]) as LavalinkProcessConfig;
  const node = await startLavalinkNode({
    port: 0,
    address: '127.0.0.1',
    password: config.password,
    statsIntervalMs: config.statsIntervalMs,
    dave: config.dave,
    sources: { http: true, local: false },
  });
  let peakRss = 0;
  const sampleRss = (): void => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss() / 1048576);
  };
  setInterval(sampleRss, 250).unref();
  sampleRss();
  process.on('message', (msg: { cmd: string; id: number }) => {
    if (msg.cmd === 'close') {
      sampleRss();
      void (async () => {
        await node.close();
        // Let the killed ffmpeg children exit (their CPU is not measured after the window).
        for (let k = 0; k < 20 && liveChildPids().length > 0; k++) await sleep(100);
        process.send!({ type: 'closed', id: msg.id, peakRssMb: peakRss }, () => process.exit(0));
      })();
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', port: node.port, pid: process.pid });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
