import { filter, firstValueFrom } from 'rxjs';
import {
  joinVoiceChannel,
  type DiscordGatewayAdapterCreator,
  type DiscordGatewayAdapterLibraryMethods,
  type VoiceServerUpdateData,
  type VoiceStateUpdateData,
  type VoiceStateUpdatePayload,
} from '../../src';
import { startVoiceServer, type VoiceServer } from '../../src/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A stand-in for discord.js's guild.voiceAdapterCreator, driven by the test like the main gateway would be. */
function fakeGuildAdapter() {
  const sent: VoiceStateUpdatePayload[] = [];
  let methods: DiscordGatewayAdapterLibraryMethods | null = null;
  let destroyed = false;
  const creator: DiscordGatewayAdapterCreator = (m) => {
    methods = m;
    return {
      sendPayload: (p) => {
        sent.push(p);
        return true;
      },
      destroy: () => {
        destroyed = true;
      },
    };
  };
  return {
    creator,
    sent,
    get destroyed() {
      return destroyed;
    },
    state: (d: Partial<VoiceStateUpdateData>) =>
      methods!.onVoiceStateUpdate({ guild_id: 'guild', channel_id: 'chan', user_id: 'bot', session_id: 'sess', ...d }),
    server: (d: Partial<VoiceServerUpdateData>) => methods!.onVoiceServerUpdate({ guild_id: 'guild', token: 'tok', endpoint: null, ...d }),
    shardGone: () => methods!.destroy(),
  };
}

describe('joinVoiceChannel with an adapter', () => {
  let a: VoiceServer;
  let b: VoiceServer;
  beforeAll(async () => {
    a = await startVoiceServer();
    b = await startVoiceServer({ tls: a.tls }); // one certificate, so one `ca` trusts both
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });
  const tls = () => ({ ca: a.certificate });

  test('sends op 4, pairs the updates (either order), reaches ready over wss', async () => {
    a.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess', token: 'tok' });
    const ad = fakeGuildAdapter();
    const conn = joinVoiceChannel({ guildId: 'guild', channelId: 'chan', selfDeaf: false, adapterCreator: ad.creator, dave: false, tls: tls() });
    expect(ad.sent).toEqual([{ op: 4, d: { guild_id: 'guild', channel_id: 'chan', self_mute: false, self_deaf: false } }]);
    expect(conn.state.status).toBe('connecting');
    ad.server({ endpoint: null }); // waiting for a server
    await sleep(50);
    expect(conn.state.status).toBe('connecting');
    ad.server({ endpoint: a.endpoint }); // before the state update: still fine
    ad.state({});
    const ready = await conn.ready(5000);
    expect(ready.endpoint).toBe(a.endpoint);
    conn.destroy();
    expect(ad.sent[1]).toEqual({ op: 4, d: { guild_id: 'guild', channel_id: null, self_mute: false, self_deaf: false } });
    expect(ad.destroyed).toBe(true);
    expect(conn.state.status).toBe('destroyed');
  });

  test('a new endpoint moves the connection; a channel move is followed; channel_id null ends in destroyed', async () => {
    a.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess2', token: 'tok' });
    b.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess2', token: 'tok-b' });
    const ad = fakeGuildAdapter();
    const conn = joinVoiceChannel({ guildId: 'guild', channelId: 'chan', adapterCreator: ad.creator, dave: false, tls: tls() });
    const statuses: string[] = [];
    conn.state$.subscribe((s) => {
      statuses.push(s.status);
      if (process.env.DEBUG_JOIN) console.log(JSON.stringify(s));
    });
    ad.state({ session_id: 'sess2' });
    ad.server({ endpoint: a.endpoint });
    await conn.ready(5000);
    ad.server({ endpoint: null }); // server being reallocated
    await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'connecting')));
    ad.server({ endpoint: b.endpoint, token: 'tok-b' });
    const moved = await conn.ready(5000);
    expect(moved.endpoint).toBe(b.endpoint);
    ad.state({ session_id: 'sess2', channel_id: 'chan-2' }); // moved channel: same session
    await sleep(50);
    expect(conn.state.status).toBe('ready');
    ad.state({ channel_id: null }); // kicked
    expect(conn.state.status).toBe('destroyed');
    expect(statuses[statuses.length - 1]).toBe('destroyed');
    expect(statuses.filter((s) => s === 'destroyed')).toHaveLength(1);
    expect(ad.destroyed).toBe(true);
  });

  test('the shard going away (adapter destroy) destroys the connection; updates of other guilds are ignored', async () => {
    const ad = fakeGuildAdapter();
    const conn = joinVoiceChannel({ guildId: 'guild', channelId: 'chan', adapterCreator: ad.creator, dave: false });
    ad.state({ guild_id: 'other-guild', channel_id: null });
    expect(conn.state.status).toBe('connecting');
    ad.shardGone();
    expect(conn.state.status).toBe('destroyed');
    await expect(conn.ready(1000)).rejects.toMatchObject({ code: 'LEFT_CHANNEL' });
  });
});
