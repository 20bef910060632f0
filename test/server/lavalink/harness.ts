/**
 * Shared harness for tests that drive real Lavalink clients against rxvoice nodes, headless
 * (no Discord): a local HTTP server for mp3 tones made by ffmpeg, the voice emulator with
 * DAVE on, listeners (rxvoice connections in the bots' channels that decrypt and decode what
 * each bot sends, with arrival times), and lavalink-client / Shoukaku wired to the emulator
 * as if it were Discord's main gateway (an op 4 join is answered with VOICE_STATE_UPDATE and
 * VOICE_SERVER_UPDATE pointing at the emulator).
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LavalinkManager, type ManagerOptions } from 'lavalink-client';
import { Connector, Player as ShoukakuPlayer, Shoukaku, type NodeOption, type ShoukakuOptions } from 'shoukaku';
import { filter, map, mergeMap, tap } from 'rxjs';
import { connectVoice, opusDecode, type VoiceConnection } from '../../../src';
import { isOpusSilence } from '../../../src/core/audioFormat';
import { findFfmpeg } from '../../../src/sources/findFfmpeg';
import { startLavalinkNode, type LavalinkNode, type LavalinkNodeOptions } from '../../../src/server/lavalink/startLavalinkNode';
import { startVoiceServer, type VoiceServer } from '../../../src/testing';

/** The node password the harness uses. */
export const PASSWORD = 'youshallnotpass';
/** One decoded 20 ms frame, 48 kHz stereo s16le. */
export const FRAME = 3840;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Media (an HTTP server for tones) and the voice emulator. */
export interface Harness {
  readonly voice: VoiceServer;
  /** `http://127.0.0.1:<port>`: `/<name>` serves a file made by {@link Harness.tone}. */
  readonly mediaUrl: string;
  /** Makes `<name>` (mp3, stereo 48 kHz): a sine of `hz` for `seconds`; returns its URL. */
  tone(hz: number, seconds: number, name: string): string;
  /** Starts a node on a free port of 127.0.0.1 (DAVE on, playerUpdate every second); closed by {@link Harness.close}. */
  startNode(options?: LavalinkNodeOptions): Promise<LavalinkNode>;
  /** Starts a listener for `botId` in a channel (see {@link Listener}); closed by {@link Harness.close}. */
  listen(guildId: string, channelId: string, botId: string): Promise<Listener>;
  /**
   * Registers voice credentials for `userId` in `guildId`/`channelId` at the emulator and
   * returns the two dispatches Discord would send on a join.
   */
  voiceUpdates(guildId: string, channelId: string, userId: string): VoiceUpdates;
  close(): Promise<void>;
}

/** VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE (raw gateway dispatches) for one join. */
export interface VoiceUpdates {
  state: { t: 'VOICE_STATE_UPDATE'; d: { guild_id: string; channel_id: string; user_id: string; session_id: string; self_deaf: boolean; self_mute: boolean } };
  server: { t: 'VOICE_SERVER_UPDATE'; d: { guild_id: string; token: string; endpoint: string } };
}

/** What a listener heard from one bot (all SSRCs the bot had, in arrival order). */
export interface Listener {
  /** The listener's own connection. */
  readonly conn: VoiceConnection;
  /** RTP sequence discontinuities seen (the sender skipped or repeated packets): [delta, `performance.now()` ms]. */
  readonly seqJumps: [number, number][];
  /** Decoded frames (through a jitter buffer), with the time each came out, `performance.now()` ms. */
  readonly frames: { at: number; pcm: Buffer }[];
  /** The bot's non-silence packets as they arrived: `performance.now()` ms and SSRC (a new voice connection has a new SSRC). */
  readonly arrivals: { at: number; ssrc: number }[];
  /** Decoded PCM since frame index `from`. */
  pcm(from?: number): Buffer;
  /** PCM decoded during the next `ms`. */
  segment(ms: number): Promise<Buffer>;
  /** First non-silence packet that arrived at or after `t` (`performance.now()` ms) from an SSRC other than `notSsrc`, or undefined. */
  firstArrivalAfter(t: number, notSsrc?: number): { at: number; ssrc: number } | undefined;
  /** Longest time between consecutive non-silence packets that arrived within [from, to], ms. */
  maxGap(from: number, to: number): number;
  /** Gaps over `minMs` between consecutive non-silence packets within [from, to]: [start, length], ms. */
  gaps(from: number, to: number, minMs: number): [number, number][];
}

let seq = 0;

/** Starts the media server and the emulator (DAVE required, as clients.test.ts). */
export async function startHarness(): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-lavalink-'));
  const ffmpeg = findFfmpeg();
  const media: Server = createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? ''));
    try {
      const size = statSync(file).size;
      res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
  const mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
  const voice = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
  const nodes: LavalinkNode[] = [];
  const conns: VoiceConnection[] = [];
  const debug = process.env.LAVALINK_DEBUG;
  return {
    voice,
    mediaUrl,
    tone(hz, seconds, name) {
      execFileSync(ffmpeg, ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}`, '-ac', '2', '-ar', '48000', '-b:a', '128k', path.join(dir, name)]);
      return `${mediaUrl}/${name}`;
    },
    async startNode(options = {}) {
      const node = await startLavalinkNode({
        port: 0,
        address: '127.0.0.1',
        password: PASSWORD,
        dave: true,
        playerUpdateIntervalMs: 1000,
        logger: debug ? (e) => console.log(e.level, e.message, e.data ?? '') : undefined,
        ...options,
      });
      nodes.push(node);
      return node;
    },
    async listen(guildId, channelId, botId) {
      const n = ++seq;
      const creds = { serverId: guildId, channelId, userId: `14${String(n).padStart(3, '0')}${botId.slice(5)}`, sessionId: `listener-${n}`, token: `listener-token-${n}` };
      voice.registerSession(creds);
      const conn = connectVoice({ endpoint: voice.wsUrl, ...creds });
      conns.push(conn);
      const frames: { at: number; pcm: Buffer }[] = [];
      const seqJumps: [number, number][] = [];
      const lastSeq = new Map<number, number>();
      const arrivals: { at: number; ssrc: number }[] = [];
      conn.speakers$
        .pipe(
          filter((s) => s.userId === botId),
          // Decoded in arrival order, without a jitter buffer: on loopback packets arrive in
          // order, and what is checked is what the bot sent. (Under heavy load — several bots
          // and listeners in this one process — rxvoice's jitterBuffer was seen to overflow and
          // conceal whole seconds of a steady 50 packet/s stream, which is a receive-side
          // matter, not the node's.)
          mergeMap((s) =>
            s.packets$.pipe(
              tap((p) => {
                if (!isOpusSilence(p.payload)) arrivals.push({ at: p.receivedAt, ssrc: p.ssrc });
              }),
              tap((p) => {
                const last = lastSeq.get(p.ssrc);
                if (last !== undefined && ((p.sequence - last) & 0xffff) !== 1) seqJumps.push([(p.sequence - last) & 0xffff, Math.round(p.receivedAt)]);
                lastSeq.set(p.ssrc, p.sequence);
              }),
              map((p) => p.payload),
              opusDecode(),
            ),
          ),
        )
        .subscribe((pcm) => frames.push({ at: performance.now(), pcm }));
      await conn.ready(5000);
      const listener: Listener = {
        conn,
        seqJumps,
        frames,
        arrivals,
        pcm: (from = 0) => Buffer.concat(frames.slice(from).map((f) => f.pcm)),
        async segment(ms) {
          const start = frames.length;
          await sleep(ms);
          return listener.pcm(start);
        },
        firstArrivalAfter: (t, notSsrc) => arrivals.find((a) => a.at >= t && a.ssrc !== notSsrc),
        gaps(from, to, minMs) {
          const within = arrivals.filter((a) => a.at >= from && a.at <= to).map((a) => a.at);
          const out: [number, number][] = [];
          for (let i = 1; i < within.length; i++) if (within[i] - within[i - 1] > minMs) out.push([within[i - 1], within[i] - within[i - 1]]);
          return out;
        },
        maxGap(from, to) {
          const within = arrivals.filter((a) => a.at >= from && a.at <= to).map((a) => a.at);
          let max = 0;
          for (let i = 1; i < within.length; i++) max = Math.max(max, within[i] - within[i - 1]);
          return max;
        },
      };
      return listener;
    },
    voiceUpdates(guildId, channelId, userId) {
      const n = ++seq;
      const creds = { serverId: guildId, channelId, userId, sessionId: `voice-session-${n}`, token: `voice-token-${n}` };
      voice.registerSession(creds);
      return {
        state: { t: 'VOICE_STATE_UPDATE', d: { guild_id: guildId, channel_id: channelId, user_id: userId, session_id: creds.sessionId, self_deaf: false, self_mute: false } },
        server: { t: 'VOICE_SERVER_UPDATE', d: { guild_id: guildId, token: creds.token, endpoint: voice.wsUrl } },
      };
    },
    async close() {
      for (const c of conns) c.destroy();
      await Promise.all(nodes.map((n) => n.close()));
      await voice.close();
      await new Promise((r) => media.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GETs a node route with the password; returns status and parsed JSON (or {} when none). */
export async function nodeGet<T = unknown>(node: LavalinkNode, route: string): Promise<{ status: number; body: T }> {
  const r = await fetch(`http://127.0.0.1:${node.port}${route}`, { headers: { Authorization: PASSWORD } });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as T };
}

/** The Player objects of a session, as the node reports them (`GET /v4/sessions/{id}/players`). */
export async function playersOf(node: LavalinkNode, sessionId: string): Promise<{ guildId: string; track: { info: { uri: string; position: number } } | null; paused: boolean; volume: number; state: { position: number; connected: boolean }; filters: Record<string, unknown> }[]> {
  const r = await nodeGet<[]>(node, `/v4/sessions/${sessionId}/players`);
  return r.status === 200 ? r.body : [];
}

/**
 * A headless lavalink-client 2.11 manager for bot `userId`: op 4 joins are answered with the
 * dispatches registered by `join(guildId, updates)` (the same voice credentials on every
 * join, as a voice server accepts a new connection of the same session).
 */
export function headlessLavalinkClient(userId: string, nodes: ManagerOptions['nodes'], extra: Partial<ManagerOptions> = {}): { manager: LavalinkManager; join(guildId: string, updates: VoiceUpdates): void } {
  const joins = new Map<string, VoiceUpdates>();
  const manager: LavalinkManager = new LavalinkManager({
    nodes,
    sendToShard: (gid, payload) => {
      const p = payload as { op: number; d: { channel_id: string | null } };
      const updates = joins.get(gid);
      if (p.op === 4 && updates && p.d.channel_id) {
        setTimeout(() => {
          void manager.sendRawData(updates.state as never);
          void manager.sendRawData(updates.server as never);
        }, 10);
      }
    },
    client: { id: userId, username: 'rxvoice-test' },
    autoSkip: true,
    playerOptions: { onEmptyQueue: { destroyAfterMs: -1 } },
    advancedOptions: { enableDebugEvents: false },
    ...extra,
  });
  // A killed node's reconnect attempts fail: expected here, not worth a console dump.
  manager.nodeManager.on('error', () => undefined);
  return { manager, join: (guildId, updates) => void joins.set(guildId, updates) };
}

/** lavalink-client node options for an rxvoice node (no source/plugin validation: the node serves http). */
export function lcNodeOptions(id: string, node: LavalinkNode, extra: Record<string, unknown> = {}): ManagerOptions['nodes'][number] {
  return { id, host: '127.0.0.1', port: node.port, authorization: PASSWORD, retryAmount: 3, retryDelay: 500, autoChecks: { sourcesValidations: false, pluginValidations: false }, ...extra } as ManagerOptions['nodes'][number];
}

/**
 * A Shoukaku 4.3 instance for bot `userId` with a headless connector: op 4 joins are
 * answered with the dispatches registered by `join(guildId, updates)`.
 */
export function headlessShoukaku(userId: string, nodes: NodeOption[], options: ShoukakuOptions = {}): { shoukaku: Shoukaku; join(guildId: string, updates: VoiceUpdates): void } {
  const joins = new Map<string, VoiceUpdates>();
  class Headless extends Connector {
    getId(): string {
      return userId;
    }
    sendPacket(_shardId: number, payload: { op: number; d: { guild_id: string; channel_id: string | null } }): Promise<void> {
      const updates = joins.get(payload.d.guild_id);
      if (payload.op === 4 && payload.d.channel_id && updates) {
        setTimeout(() => {
          this.raw(updates.state);
          this.raw(updates.server);
        }, 10);
      }
      return Promise.resolve();
    }
    listen(list: NodeOption[]): void {
      setImmediate(() => this.ready(list));
    }
  }
  const shoukaku = new Shoukaku(new Headless({}), nodes, options);
  shoukaku.on('error', () => undefined);
  return { shoukaku, join: (guildId, updates) => void joins.set(guildId, updates) };
}

export { ShoukakuPlayer };
