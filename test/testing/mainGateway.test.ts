import { once } from 'node:events';
import { WebSocketManager, WebSocketShardEvents, type RequiredWebSocketManagerOptions } from '@discordjs/ws';
import { GatewayIntentBits, type APIGatewayBotInfo, type GatewayDispatchPayload } from 'discord-api-types/v10';
import { filter, firstValueFrom } from 'rxjs';
import WebSocket from 'ws';
import { startMainGateway, startVoiceServer, type MainGateway, type VoiceServer } from '../../src/testing';

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
