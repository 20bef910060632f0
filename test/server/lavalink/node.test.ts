/**
 * Raw REST and WebSocket conformance of the Lavalink node (docs/api/rest.md,
 * docs/api/websocket.md in lavalink-devs/Lavalink): auth, error bodies, info, ready, player
 * PATCH validation. No audio, no voice connection: fast.
 */
import { WebSocket } from 'ws';
import { startLavalinkNode, type LavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { encodeTrack } from '../../../src/server/lavalink/trackCodec';
import type { ErrorResponse, Info, OutgoingMessage, Player, ReadyOp, Stats } from '../../../src/server/lavalink/types';

const PASSWORD = 'youshallnotpass';
const USER = '1300000000000000001';
const GUILD = '1200000000000000001';

let node: LavalinkNode;
let base: string;

beforeAll(async () => {
  node = await startLavalinkNode({ port: 0, address: '127.0.0.1', password: PASSWORD, sources: { http: true, local: true }, dave: false });
  base = `http://127.0.0.1:${node.port}`;
});
afterAll(async () => {
  await node.close();
});

async function call(path: string, init: RequestInit & { auth?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.auth !== null) headers.set('Authorization', init.auth ?? PASSWORD);
  return fetch(base + path, { ...init, headers });
}

interface Client {
  ws: WebSocket;
  messages: OutgoingMessage[];
  headers: Record<string, string | string[] | undefined>;
  next(pred: (m: OutgoingMessage) => boolean, timeoutMs?: number): Promise<OutgoingMessage>;
}

function connect(headers: Record<string, string> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/v4/websocket`, {
      headers: { Authorization: PASSWORD, 'User-Id': USER, 'Client-Name': 'raw-test/1.0', ...headers },
    });
    const messages: OutgoingMessage[] = [];
    const waiters: Array<{ pred: (m: OutgoingMessage) => boolean; resolve: (m: OutgoingMessage) => void }> = [];
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as OutgoingMessage;
      messages.push(m);
      for (const w of [...waiters]) {
        if (w.pred(m)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
    let upgradeHeaders: Client['headers'] = {};
    ws.on('upgrade', (res) => (upgradeHeaders = res.headers));
    ws.on('unexpected-response', (_req, res) => reject(Object.assign(new Error(`status ${res.statusCode}`), { status: res.statusCode })));
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        messages,
        headers: upgradeHeaders,
        next: (pred, timeoutMs = 3000) =>
          new Promise((res, rej) => {
            const found = messages.find(pred);
            if (found) return res(found);
            const t = setTimeout(() => rej(new Error('timed out waiting for a message')), timeoutMs);
            waiters.push({ pred, resolve: (m) => (clearTimeout(t), res(m)) });
          }),
      }),
    );
  });
}

const httpTrack = (uri: string) =>
  encodeTrack({
    info: { identifier: uri, isSeekable: true, author: 'rxvoice', length: 3000, isStream: false, position: 0, title: 'Tone', uri, artworkUrl: null, isrc: null, sourceName: 'http' },
    probeInfo: 'mp3',
  });

describe('REST', () => {
  test('auth on every route: 401 without Authorization, 403 with a wrong one; Lavalink-Api-Version: 4 and JSON error bodies', async () => {
    for (const path of ['/version', '/v4/info', '/v4/stats', '/v4/sessions/x/players', '/nothing']) {
      const missing = await call(path, { auth: null });
      expect(missing.status).toBe(401);
      expect(missing.headers.get('lavalink-api-version')).toBe('4');
      const body = (await missing.json()) as ErrorResponse;
      expect(body).toMatchObject({ status: 401, error: 'Unauthorized', path });
      expect(typeof body.timestamp).toBe('number');
      expect(typeof body.message).toBe('string');
      const wrong = await call(path, { auth: 'nope' });
      expect(wrong.status).toBe(403);
      expect(((await wrong.json()) as ErrorResponse).error).toBe('Forbidden');
    }
  });

  test('GET /version, /v4/info (http + local, the ten filters), /v4/stats (no frameStats); unknown query params are ignored', async () => {
    const v = await call('/version');
    expect(v.status).toBe(200);
    expect(v.headers.get('lavalink-api-version')).toBe('4');
    expect(await v.text()).toMatch(/^4\.\d+\.\d+/);
    const info = (await (await call('/v4/info?trace=true')).json()) as Info;
    expect(info.version.major).toBe(4);
    expect(info.sourceManagers).toEqual(['http', 'local']);
    expect([...info.filters].sort()).toEqual(['channelMix', 'distortion', 'equalizer', 'karaoke', 'lowPass', 'rotation', 'timescale', 'tremolo', 'vibrato', 'volume']);
    expect(info.plugins).toEqual([]);
    const stats = (await (await call('/v4/stats')).json()) as Stats;
    expect(stats).toMatchObject({ players: 0, playingPlayers: 0 });
    expect(stats.cpu.cores).toBeGreaterThan(0);
    expect(Object.keys(stats.memory).sort()).toEqual(['allocated', 'free', 'reservable', 'used']);
    expect('frameStats' in stats).toBe(false);
  });

  test('unknown routes 404, wrong methods 405, trace=true adds a trace', async () => {
    const r = await call('/v4/nothing?trace=true');
    expect(r.status).toBe(404);
    const body = (await r.json()) as ErrorResponse;
    expect(body).toMatchObject({ status: 404, error: 'Not Found', path: '/v4/nothing' });
    expect(typeof body.trace).toBe('string');
    expect((await call('/v4/info', { method: 'POST' })).status).toBe(405);
  });

  test('decodetrack / decodetracks: the docs example, our own tracks, 400 for garbage', async () => {
    const example =
      'QAAAjQIAJVJpY2sgQXN0bGV5IC0gTmV2ZXIgR29ubmEgR2l2ZSBZb3UgVXAADlJpY2tBc3RsZXlWRVZPAAAAAAADPCAAC2RRdzR3OVdnWGNRAAEAK2h0dHBzOi8vd3d3LnlvdXR1YmUuY29tL3dhdGNoP3Y9ZFF3NHc5V2dYY1EAB3lvdXR1YmUAAAAAAAAAAA==';
    const one = await call(`/v4/decodetrack?encodedTrack=${encodeURIComponent(example)}`);
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ encoded: example, info: { identifier: 'dQw4w9WgXcQ', length: 212000, sourceName: 'youtube', title: 'Rick Astley - Never Gonna Give You Up' } });
    const mine = httpTrack('http://127.0.0.1:1/a.mp3');
    const many = await call('/v4/decodetracks', { method: 'POST', body: JSON.stringify([example, mine]), headers: { 'Content-Type': 'application/json' } });
    expect(many.status).toBe(200);
    const tracks = (await many.json()) as Array<{ info: { sourceName: string } }>;
    expect(tracks.map((t) => t.info.sourceName)).toEqual(['youtube', 'http']);
    const bad = await call('/v4/decodetrack?encodedTrack=nonsense!!');
    expect(bad.status).toBe(400);
    expect((await call('/v4/decodetrack')).status).toBe(400);
    expect((await call('/v4/decodetracks', { method: 'POST', body: '{"not":"an array"}' })).status).toBe(400);
    expect((await call('/v4/decodetracks', { method: 'POST', body: '[1, 2' })).status).toBe(400);
  });

  test('loadtracks without identifier is 400', async () => {
    expect((await call('/v4/loadtracks')).status).toBe(400);
  });
});

describe('WebSocket', () => {
  test('bad password 401/403, missing User-Id 400, wrong path 404', async () => {
    await expect(connect({ Authorization: 'wrong' })).rejects.toMatchObject({ status: 403 });
    await expect(connect({ Authorization: '' })).rejects.toMatchObject({ status: 401 });
    await expect(connect({ 'User-Id': '' })).rejects.toMatchObject({ status: 400 });
    await expect(connect({ 'User-Id': '0' })).rejects.toMatchObject({ status: 400 });
  });

  test('ready with a 16-character session id, Session-Resumed: false, stats at once; pings answered; a resume with Session-Id', async () => {
    const c = await connect();
    expect(c.headers['session-resumed']).toBe('false');
    const ready = (await c.next((m) => m.op === 'ready')) as ReadyOp;
    expect(ready).toMatchObject({ op: 'ready', resumed: false });
    expect(ready.sessionId).toMatch(/^[a-z0-9]{16}$/);
    const stats = await c.next((m) => m.op === 'stats');
    expect(stats).toMatchObject({ op: 'stats', players: 0, playingPlayers: 0, frameStats: null });
    const pong = new Promise<void>((resolve) => c.ws.once('pong', () => resolve()));
    c.ws.ping();
    await pong;
    c.ws.send('{"op":"nonsense"'); // ignored, no crash

    // Resuming: enabled by PATCH, the socket drops, a new one with Session-Id resumes.
    const patch = await call(`/v4/sessions/${ready.sessionId}`, { method: 'PATCH', body: JSON.stringify({ resuming: true, timeout: 30 }) });
    expect(await patch.json()).toEqual({ resuming: true, timeout: 30 });
    c.ws.close();
    await new Promise((r) => setTimeout(r, 100));
    const again = await connect({ 'Session-Id': ready.sessionId });
    expect(again.headers['session-resumed']).toBe('true');
    expect(await again.next((m) => m.op === 'ready')).toEqual({ op: 'ready', resumed: true, sessionId: ready.sessionId });
    // Without resuming, the session ends with its socket.
    await call(`/v4/sessions/${ready.sessionId}`, { method: 'PATCH', body: JSON.stringify({ resuming: false }) });
    again.ws.close();
    await new Promise((r) => setTimeout(r, 100));
    expect((await call(`/v4/sessions/${ready.sessionId}/players`)).status).toBe(404);
  });
});

describe('players', () => {
  let client: Client;
  let sid: string;
  beforeAll(async () => {
    client = await connect();
    sid = ((await client.next((m) => m.op === 'ready')) as ReadyOp).sessionId;
  });
  afterAll(() => client.ws.close());

  const patch = (body: unknown, guild = GUILD, query = '') =>
    call(`/v4/sessions/${sid}/players/${guild}${query}`, { method: 'PATCH', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

  test('unknown session 404 "Session not found", unknown player 404 "Player not found", empty list', async () => {
    const r = await call(`/v4/sessions/nosuchsession000/players/${GUILD}`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as ErrorResponse).message).toBe('Session not found');
    const p = await call(`/v4/sessions/${sid}/players/${GUILD}`);
    expect(p.status).toBe(404);
    expect(((await p.json()) as ErrorResponse).message).toBe('Player not found');
    expect(await (await call(`/v4/sessions/${sid}/players`)).json()).toEqual([]);
    expect((await call(`/v4/sessions/${sid}/players/${GUILD}`, { method: 'DELETE' })).status).toBe(404);
    expect((await patch({}, 'not-a-guild')).status).toBe(400);
  });

  test('PATCH validation: 400s with Lavalink bodies, nothing created', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{"volume": 10', /Malformed JSON/],
      ['[]', /JSON object/],
      [{ track: { encoded: 'x' }, encodedTrack: 'y' }, /track and encodedTrack/],
      [{ encodedTrack: 'x', identifier: 'y' }, /encodedTrack and identifier/],
      [{ track: { encoded: 'x', identifier: 'y' } }, /track.encoded and track.identifier/],
      [{ endTime: 0 }, /endTime/],
      [{ volume: 1001 }, /volume/],
      [{ volume: 'loud' }, /volume/],
      [{ paused: 'yes' }, /paused/],
      [{ voice: { token: 't', endpoint: 'e', sessionId: 's' } }, /voice\.channelId/],
      [{ voice: { token: 't' } }, /voice\.endpoint, voice\.sessionId, voice\.channelId/],
      [{ filters: { timescale: { pitch: -1 } } }, /timescale\.pitch/],
      [{ filters: { equalizer: [{ band: 3, gain: 2 }] } }, /equalizer\[0\]\.gain/],
      [{ filters: { tremolo: { depth: 5 } } }, /tremolo\.depth/],
      [{ filters: 'loud' }, /filters/],
      [{ track: { encoded: 'nonsense!!' } }, /decode/],
    ];
    for (const [body, message] of cases) {
      const r = await patch(body);
      const err = (await r.json()) as ErrorResponse;
      expect({ body, status: r.status }).toEqual({ body, status: 400 });
      expect(err.message).toMatch(message);
      expect(err.path).toBe(`/v4/sessions/${sid}/players/${GUILD}`);
    }
    expect(await (await call(`/v4/sessions/${sid}/players`)).json()).toEqual([]);
  });

  test('PATCH creates a player: volume, paused, filters replace all, endTime, a track without voice; GET and DELETE', async () => {
    const r = await patch({ volume: 50, paused: true, filters: { timescale: { pitch: 1.5 }, volume: 0.8 } });
    expect(r.status).toBe(200);
    const p = (await r.json()) as Player;
    expect(p).toMatchObject({ guildId: GUILD, track: null, volume: 50, paused: true, filters: { timescale: { pitch: 1.5 }, volume: 0.8 } });
    expect(p.state).toMatchObject({ connected: false, ping: -1, position: 0 });
    const p2 = (await (await patch({ filters: { karaoke: { level: 1 } } })).json()) as Player;
    expect(p2.filters).toEqual({ karaoke: { level: 1 } });
    // A track before any voice state: loaded, reported, waits for a connection.
    const encoded = httpTrack('http://127.0.0.1:1/none.mp3');
    const p3 = (await (await patch({ track: { encoded, userData: { requester: 'me' } }, position: 1000 })).json()) as Player;
    expect(p3.track).toMatchObject({ encoded, userData: { requester: 'me' }, info: { position: 1000 } });
    expect(p3.paused).toBe(false); // a new track starts unpaused
    // noReplace keeps the loaded track.
    const other = httpTrack('http://127.0.0.1:1/other.mp3');
    const p4 = (await (await patch({ track: { encoded: other } }, GUILD, '?noReplace=true')).json()) as Player;
    expect(p4.track?.encoded).toBe(encoded);
    // A source that is not enabled is refused.
    const yt = encodeTrack({ info: { identifier: 'x', isSeekable: true, author: 'a', length: 1, isStream: false, position: 0, title: 't', uri: null, artworkUrl: null, isrc: null, sourceName: 'youtube' } });
    const refused = await patch({ track: { encoded: yt } });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as ErrorResponse).message).toMatch(/youtube.*not enabled/);
    // encoded: null stops.
    const p5 = (await (await patch({ track: { encoded: null } })).json()) as Player;
    expect(p5.track).toBeNull();
    const list = (await (await call(`/v4/sessions/${sid}/players`)).json()) as Player[];
    expect(list.map((x) => x.guildId)).toEqual([GUILD]);
    expect((await call(`/v4/sessions/${sid}/players/${GUILD}`)).status).toBe(200);
    const del = await call(`/v4/sessions/${sid}/players/${GUILD}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    expect(del.headers.get('lavalink-api-version')).toBe('4');
    expect((await call(`/v4/sessions/${sid}/players/${GUILD}`)).status).toBe(404);
  });

  test('the node survives junk: huge, binary and deeply nested bodies', async () => {
    expect((await patch(Buffer.alloc(2 * 1024 * 1024, 0x7b).toString())).status).toBe(413);
    expect((await patch('\u0000\u0001\u0002')).status).toBe(400);
    expect((await patch('['.repeat(100_000))).status).toBe(400);
    expect((await call('/v4/info')).status).toBe(200);
  });
});
