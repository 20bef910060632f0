import { once } from 'node:events';
import { WebSocketManager, WebSocketShardEvents, type RequiredWebSocketManagerOptions } from '@discordjs/ws';
import { GatewayIntentBits, type APIGatewayBotInfo, type GatewayDispatchPayload } from 'discord-api-types/v10';
import { filter, firstValueFrom } from 'rxjs';
import WebSocket from 'ws';
import { startMainGateway, startVoiceServer, type MainGateway, type VoiceServer } from '../../src/testing';
import { RawGatewayClient } from '../helpers/rawGatewayClient';
import { until } from '../helpers/until';

const TOKEN = 'main-gateway-test-token';
const GUILD = '400000000000000001';
const VOICE = '400000000000000002';

let voice: VoiceServer;
let gw: MainGateway;

beforeAll(async () => {
  voice = await startVoiceServer();
  gw = await startMainGateway({
    token: TOKEN,
    botUserId: '400000000000000099',
    voiceServer: voice,
    heartbeatIntervalMs: 500,
    guilds: [{ id: GUILD, channels: [{ id: VOICE }], voiceStates: [{ userId: '400000000000000050', channelId: VOICE }] }],
  });
});
afterAll(async () => {
  await gw.close();
  await voice.close();
});

function manager(intents: number): WebSocketManager {
  const info = gw.gatewayBotInfo() as APIGatewayBotInfo;
  class Offline extends WebSocketManager {
    override fetchGatewayInformation(): Promise<APIGatewayBotInfo> {
      return Promise.resolve(info);
    }
  }
  const rest = { get: () => Promise.reject(new Error('no REST in tests')) } as unknown as RequiredWebSocketManagerOptions['rest'];
  const sessions = new Map();
  return new Offline({
    token: TOKEN,
    intents,
    rest,
    shardCount: 1,
    retrieveSessionInfo: (id) => sessions.get(id) ?? null,
    updateSessionInfo: (id, s) => {
      if (s) sessions.set(id, s);
      else sessions.delete(id);
    },
  });
}

/** A raw client: opens, collects messages, and reports the close code. */
async function raw(query = '?v=10&encoding=json') {
  const ws = new WebSocket(gw.url + query);
  const messages: { op: number; t?: string; d: Record<string, unknown> }[] = [];
  ws.on('message', (m) => messages.push(JSON.parse(m.toString())));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  await once(ws, 'open');
  return { ws, messages, closed, send: (p: unknown) => ws.send(JSON.stringify(p)) };
}
const identify = (intents: number, token = TOKEN) => ({ op: 2, d: { token, intents, properties: { os: 'linux', browser: 't', device: 't' } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('@discordjs/ws connects (READY, GUILD_CREATE), joins voice (op 4 → VOICE_STATE_UPDATE + VOICE_SERVER_UPDATE), resumes after a close', async () => {
  const m = manager(GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates);
  const dispatches: GatewayDispatchPayload[] = [];
  m.on(WebSocketShardEvents.Dispatch, (p) => dispatches.push(p));
  try {
    await m.connect();
    await sleep(50);
    expect(dispatches.map((d) => d.t)).toEqual(['READY', 'GUILD_CREATE']);
    const guild = dispatches[1].d as { voice_states: { user_id: string; channel_id: string }[]; channels: { id: string; type: number }[] };
    expect(guild.channels).toEqual([expect.objectContaining({ id: VOICE, type: 2 })]);
    expect(guild.voice_states).toEqual([expect.objectContaining({ user_id: '400000000000000050', channel_id: VOICE })]);

    await m.send(0, { op: 4, d: { guild_id: GUILD, channel_id: VOICE, self_mute: false, self_deaf: true } });
    await firstValueFrom(gw.events$.pipe(filter((e) => e.type === 'dispatch' && e.t === 'VOICE_SERVER_UPDATE')));
    await sleep(50);
    const [state, server] = dispatches.slice(2);
    expect(state).toMatchObject({ t: 'VOICE_STATE_UPDATE', d: { guild_id: GUILD, channel_id: VOICE, user_id: '400000000000000099', self_deaf: true } });
    expect(server).toMatchObject({ t: 'VOICE_SERVER_UPDATE', d: { guild_id: GUILD, endpoint: voice.endpoint } });
    expect((state.d as { session_id: string }).session_id).toBe(gw.sessions()[0].sessionId);
    expect(gw.sessions()[0].voiceChannels).toEqual({ [GUILD]: VOICE });

    // A resumable close: @discordjs/ws comes back with RESUME, no second IDENTIFY.
    const identifies = gw.identifies().length;
    const resumed = once(m, WebSocketShardEvents.Resumed);
    gw.faults.close(4000, 'test: resumable');
    await resumed;
    expect(gw.identifies().length).toBe(identifies);
    expect(gw.sessions()[0].resumes).toBe(1);

    await m.send(0, { op: 4, d: { guild_id: GUILD, channel_id: null, self_mute: false, self_deaf: false } });
    await firstValueFrom(gw.events$.pipe(filter((e) => e.type === 'dispatch' && e.t === 'VOICE_STATE_UPDATE')));
    expect(gw.voiceStateRequests().map((r) => r.channel_id)).toEqual([VOICE, null]);
  } finally {
    await m.destroy();
  }
}, 15_000);

test('strict: 4003 before IDENTIFY, 4004 bad token, 4014 privileged intents, 4001 unknown op, 4012 bad version', async () => {
  const early = await raw();
  early.send({ op: 4, d: { guild_id: GUILD, channel_id: VOICE } });
  expect(await early.closed).toBe(4003);

  const badToken = await raw();
  badToken.send(identify(1, 'wrong'));
  expect(await badToken.closed).toBe(4004);
  expect(gw.identifies().at(-1)).toMatchObject({ authenticated: false, intents: 1 });

  const privileged = await raw();
  privileged.send(identify(GatewayIntentBits.MessageContent));
  expect(await privileged.closed).toBe(4014);

  const unknownOp = await raw();
  unknownOp.send(identify(1));
  unknownOp.send({ op: 99, d: null });
  expect(await unknownOp.closed).toBe(4001);

  const version = await raw('?v=9&encoding=json');
  expect(await version.closed).toBe(4012);
});

test('without GUILD_VOICE_STATES only VOICE_SERVER_UPDATE comes; unknown channels get no answer; heartbeats are ACKed', async () => {
  const c = await raw();
  c.send(identify(GatewayIntentBits.Guilds));
  c.send({ op: 1, d: null });
  await sleep(100);
  expect(c.messages.map((m) => m.op)).toEqual([10, 0, 0, 11]);
  c.send({ op: 4, d: { guild_id: GUILD, channel_id: '999', self_mute: false, self_deaf: false } });
  await sleep(100);
  expect(c.messages.length).toBe(4);
  c.send({ op: 4, d: { guild_id: GUILD, channel_id: VOICE, self_mute: false, self_deaf: false } });
  await sleep(100);
  expect(c.messages.slice(4).map((m) => m.t)).toEqual(['VOICE_SERVER_UPDATE']);
  c.ws.close(1000);
  await c.closed;
});

test('rest: token-checked gateway/bot and users/@me; commands bulk overwrite; interact → INTERACTION_CREATE; callback, edit, follow-up recorded; Discord error codes', async () => {
  const BOT = '400000000000000099';
  const USER = '400000000000000050';
  const TEXT = '400000000000000003';
  const g = await startMainGateway({
    token: TOKEN,
    botUserId: BOT,
    rest: true,
    interactionResponseTimeoutMs: 1000,
    guilds: [{ id: GUILD, channels: [{ id: VOICE }, { id: TEXT, type: 'text' }], voiceStates: [{ userId: USER, channelId: VOICE }] }],
  });
  let ws: WebSocket | null = null;
  try {
    expect(gw.restUrl).toBeNull();
    const api = `${g.restUrl}/v10`;
    const auth = { authorization: `Bot ${TOKEN}` };
    const json = { ...auth, 'content-type': 'application/json' };
    const call = async (url: string, init: RequestInit = {}) => {
      const res = await fetch(url, init);
      return { status: res.status, body: res.status === 204 ? null : ((await res.json()) as Record<string, unknown>) };
    };
    expect(await call(`${api}/gateway/bot`)).toEqual({ status: 401, body: { message: '401: Unauthorized', code: 0 } });
    expect(await call(`${api}/gateway/bot`, { headers: auth })).toEqual({ status: 200, body: g.gatewayBotInfo() });
    expect((await call(`${api}/users/@me`, { headers: auth })).body).toMatchObject({ id: BOT, bot: true });
    expect((await call(`${g.restUrl}/v9/users/@me`, { headers: auth })).status).toBe(404);

    const play = { name: 'play', description: 'Play a file', options: [{ type: 3, name: 'file', description: 'The file', required: true }] };
    const put = await call(`${api}/applications/${BOT}/commands`, { method: 'PUT', headers: json, body: JSON.stringify([play]) });
    expect(put.status).toBe(200);
    const [command] = put.body as unknown as { id: string; version: string }[];
    expect(command).toMatchObject({ ...play, type: 1, application_id: BOT, default_member_permissions: null, id: expect.stringMatching(/^\d+$/) });
    expect(g.commands()).toEqual(put.body);
    // A second overwrite keeps the id of a command with the same name.
    const again = await call(`${api}/applications/${BOT}/commands`, { method: 'PUT', headers: json, body: JSON.stringify([play]) });
    expect((again.body as unknown as { id: string }[])[0].id).toBe(command.id);
    expect((await call(`${api}/applications/${BOT}/commands`, { method: 'PUT', headers: json, body: JSON.stringify([{ name: 'Bad Name' }]) })).body).toMatchObject({ code: 50035 });

    // A session to receive INTERACTION_CREATE; GUILD_CREATE carries the members (the bot, and users in voice).
    const messages: { t?: string; d: Record<string, unknown> }[] = [];
    ws = new WebSocket(`${g.url}?v=10&encoding=json`);
    ws.on('message', (m) => messages.push(JSON.parse(m.toString())));
    await once(ws, 'open');
    ws.send(JSON.stringify(identify(GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates)));
    await firstValueFrom(g.events$.pipe(filter((e) => e.type === 'dispatch' && e.t === 'GUILD_CREATE')));
    await sleep(50);
    const guild = messages.find((m) => m.t === 'GUILD_CREATE')!.d as { members: { user: { id: string } }[] };
    expect(guild.members.map((m) => m.user.id)).toEqual([BOT, USER]);

    expect(() => g.interact({ name: 'nope', guildId: GUILD, userId: USER })).toThrow(/no slash command "nope"/);
    expect(() => g.interact({ name: 'play', guildId: GUILD, userId: USER })).toThrow(/needs option "file"/);
    expect(() => g.interact({ name: 'play', options: { file: 'a', loud: true }, guildId: GUILD, userId: USER })).toThrow(/no option "loud"/);
    const h = g.interact({ name: 'play', options: { file: 'a.mp3' }, guildId: GUILD, userId: USER });
    expect(h.delivered).toBe(1);
    await sleep(50);
    expect(messages.at(-1)).toMatchObject({
      t: 'INTERACTION_CREATE',
      d: {
        id: h.id,
        token: h.token,
        type: 2,
        application_id: BOT,
        data: { id: command.id, name: 'play', type: 1, options: [{ name: 'file', type: 3, value: 'a.mp3' }] },
        guild_id: GUILD,
        channel_id: TEXT, // default: the first text channel
        channel: { id: TEXT, type: 0 },
        member: { user: { id: USER }, roles: [] },
      },
    });

    const callback = `${api}/interactions/${h.id}/${h.token}/callback`;
    const original = `${api}/webhooks/${BOT}/${h.token}/messages/@original`;
    expect((await call(original, { method: 'PATCH', headers: json, body: '{"content":"x"}' })).body).toMatchObject({ code: 10008 });
    expect((await call(`${api}/interactions/${h.id}/wrong-token/callback`, { method: 'POST', headers: json, body: '{"type":4}' })).body).toMatchObject({ code: 10062 });
    expect(await call(callback, { method: 'POST', headers: json, body: JSON.stringify({ type: 4, data: { content: 'hello' } }) })).toEqual({ status: 204, body: null });
    expect((await call(callback, { method: 'POST', headers: json, body: JSON.stringify({ type: 4, data: { content: 'again' } }) })).body).toMatchObject({ code: 40060 });
    const edited = await call(original, { method: 'PATCH', headers: json, body: JSON.stringify({ content: 'edited' }) });
    expect(edited.body).toMatchObject({ content: 'edited', channel_id: TEXT, author: { id: BOT }, type: 20 });
    expect((await call(`${api}/webhooks/${BOT}/${h.token}?wait=true`, { method: 'POST', headers: json, body: '{"content":"more"}' })).body).toMatchObject({ content: 'more' });
    expect(g.interactionResponses(h.id).map((r) => [r.kind, r.type, r.content])).toEqual([
      ['callback', 4, 'hello'],
      ['edit', null, 'edited'],
      ['follow-up', null, 'more'],
    ]);
    expect(g.restRequests().at(-1)).toEqual({ method: 'POST', path: `/api/v10/webhooks/${BOT}/${h.token}`, status: 200 });

    // Past the response window the interaction is gone (10062).
    const late = g.interact({ name: 'play', options: { file: 'b.mp3' }, guildId: GUILD, userId: USER });
    await sleep(1100);
    expect((await call(`${api}/interactions/${late.id}/${late.token}/callback`, { method: 'POST', headers: json, body: '{"type":5}' })).body).toMatchObject({
      code: 10062,
    });
  } finally {
    ws?.close(1000);
    await g.close();
  }
});

test('moves and disconnects: op 4 to another channel ends the voice session (4014) then both updates, with that channel\'s voice server; flags only: a state update; setVoiceState drags or disconnects the bot; channel options resolve', async () => {
  const BOT = '400000000000000099';
  const [ONE, TWO, TEXT] = ['400000000000000011', '400000000000000012', '400000000000000013'];
  const other = await startVoiceServer({ tls: voice.tls });
  const g = await startMainGateway({
    token: TOKEN,
    botUserId: BOT,
    voiceServer: voice,
    rest: true,
    guilds: [{ id: GUILD, channels: [{ id: ONE }, { id: TWO, voiceServer: other }, { id: TEXT, type: 'text' }] }],
  });
  const ws = new WebSocket(`${g.url}?v=10&encoding=json`);
  const dispatches: { t: string; d: Record<string, unknown> }[] = [];
  ws.on('message', (m) => {
    const msg = JSON.parse(m.toString()) as { op: number; t: string; d: Record<string, unknown> };
    if (msg.op === 0) dispatches.push(msg);
  });
  const voiceClients: RawGatewayClient[] = [];
  try {
    await once(ws, 'open');
    ws.send(JSON.stringify(identify(GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates)));
    await until(() => dispatches.some((d) => d.t === 'GUILD_CREATE'));
    const since = (n: number) => dispatches.slice(n).map((d) => [d.t, d.t === 'VOICE_SERVER_UPDATE' ? d.d.endpoint : d.d.channel_id]);
    const op4 = async (channel_id: string | null, self_mute = false, expected = 2): Promise<number> => {
      const n = dispatches.length;
      ws.send(JSON.stringify({ op: 4, d: { guild_id: GUILD, channel_id, self_mute, self_deaf: false } }));
      await until(() => dispatches.length >= n + expected);
      return n;
    };
    /** The bot's voice client identifies with what the last updates said; resolves with it. */
    const connectVoiceClient = async (server: VoiceServer): Promise<RawGatewayClient> => {
      const state = dispatches.filter((d) => d.t === 'VOICE_STATE_UPDATE').at(-1)!.d;
      const update = dispatches.filter((d) => d.t === 'VOICE_SERVER_UPDATE').at(-1)!.d;
      const c = await RawGatewayClient.connect(server.wsUrl);
      voiceClients.push(c);
      c.send(0, { server_id: GUILD, user_id: BOT, session_id: state.session_id, token: update.token });
      await c.waitFor(2);
      return c;
    };

    let n = await op4(ONE);
    expect(since(n)).toEqual([
      ['VOICE_STATE_UPDATE', ONE],
      ['VOICE_SERVER_UPDATE', voice.endpoint],
    ]);
    const first = await connectVoiceClient(voice);
    expect(voice.clients().find((c) => c.userId === BOT)?.channelId).toBe(ONE);

    n = await op4(ONE, true, 1); // self-mute only
    await sleep(50);
    expect(since(n)).toEqual([['VOICE_STATE_UPDATE', ONE]]);

    n = await op4(TWO); // the bot moves itself: another channel, on another voice server
    expect(await first.waitForClose()).toBe(4014);
    expect(since(n)).toEqual([
      ['VOICE_STATE_UPDATE', TWO],
      ['VOICE_SERVER_UPDATE', other.endpoint],
    ]);
    const second = await connectVoiceClient(other);
    expect(other.clients().find((c) => c.userId === BOT)?.channelId).toBe(TWO);

    n = dispatches.length; // a moderator drags it back to ONE
    g.setVoiceState(GUILD, BOT, ONE);
    expect(await second.waitForClose()).toBe(4014);
    await until(() => dispatches.length >= n + 2);
    expect(since(n)).toEqual([
      ['VOICE_STATE_UPDATE', ONE],
      ['VOICE_SERVER_UPDATE', voice.endpoint],
    ]);
    const third = await connectVoiceClient(voice);
    expect(voice.sessionHistory(BOT).map((s) => [s.channelId, s.endCode])).toEqual([
      [ONE, 4014],
      [ONE, null],
    ]);

    n = dispatches.length; // and disconnects it
    g.setVoiceState(GUILD, BOT, null);
    expect(await third.waitForClose()).toBe(4014);
    await until(() => dispatches.length >= n + 1);
    await sleep(50);
    expect(since(n)).toEqual([['VOICE_STATE_UPDATE', null]]);
    expect(g.sessions()[0].voiceChannels).toEqual({ [GUILD]: null });

    // A channel option arrives with the channel in `resolved`, as on Discord.
    const json = { authorization: `Bot ${TOKEN}`, 'content-type': 'application/json' };
    const move = { name: 'move', description: 'Move', options: [{ type: 7, name: 'channel', description: 'Where', required: true }] };
    await fetch(`${g.restUrl}/v10/applications/${BOT}/commands`, { method: 'PUT', headers: json, body: JSON.stringify([move]) });
    expect(() => g.interact({ name: 'move', options: { channel: '1' }, guildId: GUILD, userId: '400000000000000050' })).toThrow(/channel id/);
    const h = g.interact({ name: 'move', options: { channel: TWO }, guildId: GUILD, userId: '400000000000000050' });
    await until(() => dispatches.some((d) => d.t === 'INTERACTION_CREATE' && d.d.id === h.id));
    const data = dispatches.find((d) => d.t === 'INTERACTION_CREATE' && d.d.id === h.id)!.d.data;
    expect(data).toMatchObject({ options: [{ name: 'channel', type: 7, value: TWO }], resolved: { channels: { [TWO]: { id: TWO, type: 2, permissions: expect.any(String) } } } });
  } finally {
    for (const c of voiceClients) c.close();
    ws.close(1000);
    await g.close();
    await other.close();
  }
}, 15_000);
