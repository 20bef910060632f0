import { filter, firstValueFrom } from 'rxjs';
import {
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
  VoiceConnectionError,
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
  let created = 0;
  let canSend = true;
  const creator: DiscordGatewayAdapterCreator = (m) => {
    methods = m;
    created++;
    return {
      sendPayload: (p) => {
        if (!canSend) return false;
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
    get created() {
      return created;
    },
    shardDown: () => (canSend = false),
    shardUp: () => (canSend = true),
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
    // `transport` is cached between state changes: read it inside every emission (before
    // the inner connection has updated its own) and check it is right after each one.
    const readInside: unknown[] = [];
    conn.state$.subscribe((s) => {
      statuses.push(s.status);
      readInside.push(conn.transport);
      if (process.env.DEBUG_JOIN) console.log(JSON.stringify(s));
    });
    ad.state({ session_id: 'sess2' });
    ad.server({ endpoint: a.endpoint });
    await conn.ready(5000);
    const first = conn.transport;
    expect(first).not.toBeNull();
    expect(conn.transport).toBe(first);
    ad.server({ endpoint: null }); // server being reallocated
    await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'connecting')));
    await sleep(0);
    expect(conn.transport).toBeNull();
    ad.server({ endpoint: b.endpoint, token: 'tok-b' });
    const moved = await conn.ready(5000);
    expect(moved.endpoint).toBe(b.endpoint);
    const second = conn.transport;
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect(second?.udp).not.toBe(first?.udp);
    expect(readInside.length).toBeGreaterThan(3);
    ad.state({ session_id: 'sess2', channel_id: 'chan-2' }); // moved channel: same session
    await sleep(50);
    expect(conn.state.status).toBe('ready');
    expect(conn.transport).toBe(second);
    ad.state({ channel_id: null }); // kicked
    expect(conn.state).toEqual({ status: 'destroyed', reason: 'disconnected-by-server' });
    expect(conn.transport).toBeNull();
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
    expect(conn.state).toEqual({ status: 'destroyed', reason: 'adapter-gone' });
    await expect(conn.ready(1000)).rejects.toMatchObject({ code: 'LEFT_CHANNEL' });
  });

  describe('one connection per guild and group', () => {
    const join = (ad: ReturnType<typeof fakeGuildAdapter>, more: { channelId?: string; selfDeaf?: boolean; selfMute?: boolean; group?: string } = {}) =>
      joinVoiceChannel({ guildId: 'g1', channelId: 'c1', selfDeaf: false, adapterCreator: ad.creator, dave: false, ...more });
    const op4 = (channel_id: string | null, flags: { self_mute?: boolean; self_deaf?: boolean } = {}) => ({
      op: 4,
      d: { guild_id: 'g1', channel_id, self_mute: false, self_deaf: false, ...flags },
    });
    afterEach(() => {
      for (const group of ['default', 'other']) for (const c of getVoiceConnections(group).values()) c.destroy();
    });

    test('a second join returns the live connection: no second adapter, no op 4 if nothing changes; getVoiceConnection finds it until destroy()', () => {
      const ad = fakeGuildAdapter();
      expect(getVoiceConnection('g1')).toBeUndefined();
      const conn = join(ad);
      expect(getVoiceConnection('g1')).toBe(conn);
      expect(conn).toMatchObject({ guildId: 'g1', channelId: 'c1' });
      const again = fakeGuildAdapter();
      expect(join(again)).toBe(conn);
      expect(again.created).toBe(0); // discord.js would have replaced the guild's adapter
      expect(ad.sent).toEqual([op4('c1')]);
      expect([...getVoiceConnections()]).toEqual([['g1', conn]]);
      conn.destroy();
      expect(conn.state).toEqual({ status: 'destroyed', reason: 'destroy-called' });
      expect(getVoiceConnection('g1')).toBeUndefined();
      expect(getVoiceConnections().size).toBe(0);
      const fresh = join(again);
      expect(fresh).not.toBe(conn);
      expect(again.created).toBe(1);
      expect(getVoiceConnection('g1')).toBe(fresh);
    });

    test('another channel or other flags: op 4 again (a move); VOICE_STATE_UPDATE updates channelId; groups are separate', () => {
      const ad = fakeGuildAdapter();
      const conn = join(ad);
      ad.state({ guild_id: 'g1', channel_id: 'c1' });
      expect(join(ad, { channelId: 'c2' })).toBe(conn);
      expect(join(ad, { channelId: 'c2' })).toBe(conn); // the move is on its way: nothing more
      expect(conn.channelId).toBe('c1');
      ad.state({ guild_id: 'g1', channel_id: 'c2' });
      expect(conn.channelId).toBe('c2');
      join(ad, { channelId: 'c2', selfMute: true });
      expect(ad.sent).toEqual([op4('c1'), op4('c2'), op4('c2', { self_mute: true })]);
      ad.state({ guild_id: 'g1', channel_id: 'c3' }); // dragged by someone
      join(ad, { channelId: 'c3', selfMute: true }); // already there
      expect(ad.sent).toHaveLength(3);

      const other = fakeGuildAdapter();
      const second = join(other, { group: 'other' });
      expect(second).not.toBe(conn);
      expect(getVoiceConnection('g1', 'other')).toBe(second);
      expect(getVoiceConnection('g1')).toBe(conn);
    });

    test('disconnected by the server: destroyed with its reason, removed; a later join starts fresh', () => {
      const ad = fakeGuildAdapter();
      const conn = join(ad);
      const states: string[] = [];
      conn.state$.subscribe((s) => states.push(s.status === 'destroyed' ? `destroyed:${s.reason}` : s.status));
      ad.state({ guild_id: 'g1', channel_id: null });
      expect(states).toEqual(['connecting', 'destroyed:disconnected-by-server']);
      expect(ad.sent).toEqual([op4('c1')]); // no op 4 to leave: it is out already
      expect(getVoiceConnection('g1')).toBeUndefined();
      expect(join(fakeGuildAdapter())).not.toBe(conn);
    });

    test('the shard is down: a move throws GATEWAY_UNAVAILABLE and changes nothing; a first join is disconnected until rejoin() gets through', async () => {
      const ad = fakeGuildAdapter();
      const conn = join(ad);
      ad.shardDown();
      expect(() => join(ad, { channelId: 'c2' })).toThrow(expect.objectContaining({ code: 'GATEWAY_UNAVAILABLE' }));
      expect(() => join(ad, { channelId: 'c2' })).toThrow(VoiceConnectionError); // still wants c1: tries again
      expect(conn.state.status).toBe('connecting');
      conn.destroy();
      const down = fakeGuildAdapter();
      down.shardDown();
      const failed = join(down);
      await expect(failed.ready(1000)).rejects.toMatchObject({ code: 'GATEWAY_UNAVAILABLE' });
      expect(getVoiceConnection('g1')).toBe(failed);
      expect(() => failed.rejoin()).toThrow(expect.objectContaining({ code: 'GATEWAY_UNAVAILABLE' }));
      down.shardUp();
      failed.rejoin();
      expect(down.sent).toEqual([op4('c1')]);
      expect(failed.state.status).toBe('connecting');
    });
  });

  test('against the emulator: a move (4014, then the new channel and server) reconnects; rejoin() after giving up sends op 4 again', async () => {
    a.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess3', token: 'tok-a', channelId: 'chan' });
    const ad = fakeGuildAdapter();
    const conn = joinVoiceChannel({ guildId: 'guild', channelId: 'chan', adapterCreator: ad.creator, dave: false, tls: tls(), gatewayGraceMs: 300 });
    const statuses: string[] = [];
    conn.state$.subscribe((s) => statuses.push(s.status));
    ad.state({ session_id: 'sess3' });
    ad.server({ endpoint: a.endpoint, token: 'tok-a' });
    await conn.ready(5000);
    // What Discord does when someone drags the bot to chan-2 (on server b): 4014, then both updates.
    a.endSession('sess3');
    await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'reconnecting')));
    b.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess3', token: 'tok-b', channelId: 'chan-2' });
    ad.state({ session_id: 'sess3', channel_id: 'chan-2' });
    ad.server({ endpoint: b.endpoint, token: 'tok-b' });
    const moved = await conn.ready(5000);
    expect(moved.endpoint).toBe(b.endpoint);
    expect(conn.channelId).toBe('chan-2');
    expect(b.clients().find((c) => c.userId === 'bot')?.channelId).toBe('chan-2');
    expect(statuses.filter((s) => s === 'disconnected')).toEqual([]);
    // 4014 with no word from the main gateway: disconnected after the grace; rejoin() asks again.
    b.endSession('sess3');
    const gaveUp = await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'disconnected')));
    expect(gaveUp.status === 'disconnected' && gaveUp.error.closeCode).toBe(4014);
    const before = ad.sent.length;
    conn.rejoin();
    expect(ad.sent.slice(before)).toEqual([{ op: 4, d: { guild_id: 'guild', channel_id: 'chan-2', self_mute: false, self_deaf: true } }]);
    b.registerSession({ serverId: 'guild', userId: 'bot', sessionId: 'sess3', token: 'tok-b2', channelId: 'chan-2' });
    ad.server({ endpoint: b.endpoint, token: 'tok-b2' });
    await conn.ready(5000);
    conn.destroy();
  });
});
