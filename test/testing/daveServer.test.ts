import { OpusEncoder } from '@discordjs/opus';
import type { Subscription } from 'rxjs';
import { isDaveProtocolFrame } from '../../src/testing/internal/dave/protocolFrame';
import { generateTone, startVoiceServer, type VoiceServer, type VoiceServerEvent } from '../../src/testing';
import { describeRun, lineOf, startDjsClient } from '../conformance/djsChild';
import { DaveTestClient } from '../helpers/daveTestClient';
import { RawGatewayClient } from '../helpers/rawGatewayClient';
import { until } from '../helpers/until';

let nextId = 100n;
const snowflake = (): string => String(1_100_000_000_000_000_000n + nextId++);

describe('DAVE voice server (emulator) with @snazzah/davey clients', () => {
  let server: VoiceServer;
  const events: VoiceServerEvent[] = [];
  let sub: Subscription;
  const clients: DaveTestClient[] = [];

  beforeAll(async () => {
    server = await startVoiceServer({ dave: true, daveTransitionTimeoutMs: 1500 });
    sub = server.events$.subscribe((e) => events.push(e));
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    sub.unsubscribe();
    await server.close();
  });

  const channels = new Set<string>();
  const join = async (serverId: string, dave = 1, channelId?: string, userId = snowflake()): Promise<DaveTestClient> => {
    channels.add(serverId);
    const c = await DaveTestClient.connect(server, { userId, serverId, dave, channelId });
    clients.push(c);
    return c;
  };
  const leave = (c: DaveTestClient): void => {
    c.close();
    clients.splice(clients.indexOf(c), 1);
  };

  const describeState = (serverId: string, cs: DaveTestClient[], channelId?: string): string =>
    JSON.stringify({
      server: server.dave(serverId, channelId),
      clients: cs.map((c) => ({ u: c.userId, ready: c.ready, epoch: String(c.session?.epoch), code: c.privacyCode, errors: c.errors, log: c.log })),
    });

  /** Every client ready, on the server's epoch, same privacy code, no pending transitions, leaf indexes as the server tracks them. */
  const settled = async (serverId: string, cs: DaveTestClient[], channelId?: string): Promise<void> => {
    await until(() => {
      const st = server.dave(serverId, channelId);
      if (!st?.established || st.members.length !== cs.length || st.pending.length > 0) return false;
      const code = cs[0].privacyCode;
      return cs.every(
        (c) =>
          c.ready &&
          c.session?.epoch === BigInt(st.epoch) &&
          c.privacyCode === code &&
          code !== '' &&
          c.pendingTransitions.size === 0 &&
          st.leaves[c.userId] === c.session.ownLeafIndex,
      );
    }, () => describeState(serverId, cs, channelId));
    for (const c of cs) expect(c.errors).toEqual([]);
  };

  describe('group lifecycle (one channel)', () => {
    const channel = snowflake();
    let a: DaveTestClient;
    let b: DaveTestClient;
    let c: DaveTestClient;

    test('two clients: op 4 says v1, op 25 follows, the group is established with matching codes', async () => {
      a = await join(channel);
      expect(a.protocolVersion).toBe(1);
      expect(server.dave(channel)).toMatchObject({ protocolVersion: 1, established: false, members: [] });
      b = await join(channel);
      await settled(channel, [a, b]);
      const st = server.dave(channel)!;
      expect(st.epoch).toBe(1);
      expect(st.commitsAccepted).toBe(1);
      expect(new Set(st.members)).toEqual(new Set([a.userId, b.userId]));
      expect(await a.session!.getVerificationCode(b.userId)).toBe(await b.session!.getVerificationCode(a.userId));
      expect(a.privacyCode).toMatch(/^\d{30}$/);
      // The transition executed (op 22) once everyone sent op 23.
      await until(() => a.executed.length > 0 && b.executed.length > 0, () => describeState(channel, [a, b]));
      const exec = events.find((e) => e.type === 'dave-transition' && e.serverId === channel && e.phase === 'execute');
      expect(exec).toMatchObject({ reason: 'commit', timedOut: false });
    });

    test('a stale commit (epoch already moved on) is rejected', async () => {
      const before = server.dave(channel)!.commitsRejected;
      const old = a.commitsSent[0] ?? b.commitsSent[0];
      (a.commitsSent.length > 0 ? a : b).gw.sendBinary(28, old);
      await until(() => server.dave(channel)!.commitsRejected === before + 1, () => describeState(channel, [a, b]));
      const rejected = events.filter((e) => e.type === 'dave-commit' && e.serverId === channel && !e.accepted).pop();
      expect(rejected).toMatchObject({ reason: expect.stringMatching(/stale/) });
      expect(server.dave(channel)!.epoch).toBe(1);
    });

    test('a third client joins: external Add, epoch 2, all three share the code', async () => {
      c = await join(channel);
      await settled(channel, [a, b, c]);
      expect(server.dave(channel)!.epoch).toBe(2);
      const adds = events.filter((e) => e.type === 'dave-proposals' && e.serverId === channel && e.epoch === 1);
      expect(adds.length).toBeGreaterThan(0);
      for (const e of adds) if (e.type === 'dave-proposals') expect(e.proposals).toEqual([{ kind: 'add', userId: c.userId }]);
      expect(await a.session!.getVerificationCode(c.userId)).toBe(await c.session!.getVerificationCode(a.userId));
    });

    test('one leaves: external Remove, epoch 3, the other two still agree', async () => {
      const codeBefore = a.privacyCode;
      leave(b);
      await settled(channel, [a, c]);
      expect(server.dave(channel)!.epoch).toBe(3);
      expect(a.privacyCode).not.toBe(codeBefore);
      const removes = events.filter((e) => e.type === 'dave-proposals' && e.serverId === channel && e.epoch === 2);
      expect(removes.map((e) => e.type === 'dave-proposals' && e.proposals)).toContainEqual([{ kind: 'remove', userId: b.userId }]);
    });

    test('one more joins after a removal: it takes the blank leaf (as the server predicted)', async () => {
      const d = await join(channel);
      // Whoever committed first took leaf 0, the other of a/b leaf 1, c leaf 2; b's leaf is blank now.
      const leaves = server.dave(channel)!.leaves;
      expect(leaves[c.userId]).toBe(2);
      const bLeaf = 1 - leaves[a.userId];
      await settled(channel, [a, c, d]); // `settled` checks each ownLeafIndex against the server's view
      expect(server.dave(channel)!.leaves[d.userId]).toBe(bLeaf); // the blank leaf left by b
      expect(server.dave(channel)!.epoch).toBe(4);
      leave(d);
      await settled(channel, [a, c]);
    });

    test('sole member reset: op 24 epoch 1 and op 21 transition 0; a newcomer re-creates the group', async () => {
      const before = a.log.length;
      leave(c);
      await until(() => a.log.slice(before).includes('prepare_transition 0 v1'), () => describeState(channel, [a]));
      expect(a.log.slice(before)).toEqual(expect.arrayContaining(['prepare_epoch 1 v1', 'prepare_transition 0 v1']));
      expect(a.log.slice(before).indexOf('prepare_epoch 1 v1')).toBeLessThan(a.log.slice(before).indexOf('prepare_transition 0 v1'));
      expect(server.dave(channel)).toMatchObject({ established: false, epoch: 0, members: [], pending: [a.userId] });
      const e = await join(channel);
      await settled(channel, [a, e]);
      expect(server.dave(channel)!.epoch).toBe(1);
    });
  });

  test('corrupted welcome: the client reports op 31, is removed and re-added, and ends up in the group', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const b = await join(channel);
    await settled(channel, [a, b]);
    const userC = snowflake();
    server.faults.corruptDaveWelcome(userC);
    const c = await DaveTestClient.connect(server, { userId: userC, serverId: channel });
    clients.push(c);
    await settled(channel, [a, b, c]);
    expect(c.invalidSent.length).toBe(1);
    const st = server.dave(channel)!;
    expect(st.invalidReports).toBe(1);
    expect(st.epoch).toBeGreaterThanOrEqual(3);
    const welcomes = events.filter((e) => e.type === 'dave-welcome' && e.userId === userC);
    expect(welcomes.map((e) => e.type === 'dave-welcome' && e.corrupted)).toEqual([true, false]);
    expect(events.some((e) => e.type === 'dave-invalid' && e.userId === userC)).toBe(true);
    // Its first (corrupted) transition did not wait for it forever: A and B executed it.
    const firstTid = (welcomes[0] as { transitionId: number }).transitionId;
    await until(() => a.executed.includes(firstTid) && b.executed.includes(firstTid), () => describeState(channel, [a, b, c]));
  });

  test('RESUME: DAVE frames missed while away (proposals, commit) are replayed in order', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const b = await join(channel);
    await settled(channel, [a, b]);
    server.faults.close(a.userId, 4015, 'voice server crashed'); // resumable
    await a.gw.waitForClose();
    const c = await join(channel);
    await until(() => server.dave(channel)!.epoch === 2, () => describeState(channel, [a, b, c])); // b committed the Add
    expect(a.session!.epoch).toBe(1n);
    await a.resume(server);
    await settled(channel, [a, b, c]);
    expect(a.errors).toEqual([]);
    expect(a.invalidSent).toEqual([]);
  });

  test('SFU relay: a DAVE-encrypted Opus frame reaches the other client and decrypts with davey', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const b = await join(channel);
    await settled(channel, [a, b]);
    await until(() => a.executed.length > 0, () => describeState(channel, [a, b]));
    const enc = new OpusEncoder(48000, 2);
    const pcm = generateTone({ frequency: 440, durationMs: 200 });
    const frames: Buffer[] = [];
    for (let i = 0; i + 3840 <= pcm.length; i += 3840) frames.push(enc.encode(pcm.subarray(i, i + 3840)));
    a.sendOpus(frames);
    await until(() => (b.received.get(a.userId)?.length ?? 0) === frames.length, () => `b got ${b.received.get(a.userId)?.length ?? 0}/${frames.length}, ${b.log.join('; ')}`);
    expect(b.received.get(a.userId)).toEqual(frames);
    expect(b.decryptFailures).toBe(0);
    // What travelled was not Opus: every relayed payload carries the DAVE footer.
    expect(b.rawPayloads.length).toBe(frames.length);
    for (const p of b.rawPayloads) expect(isDaveProtocolFrame(p)).toBe(true);
    const rec = server.receivedFrom(a.userId)!;
    expect(rec).toMatchObject({ frames: frames.length, e2eeFrames: frames.length, decodeFailures: 0, decryptFailures: 0 });
    expect(server.udpStats().relayed).toBeGreaterThanOrEqual(frames.length);
  });

  test('@discordjs/voice 0.19 as the other member: same privacy code, its E2EE audio decrypts with davey', async () => {
    const guild = snowflake();
    const channel = snowflake();
    const listener = await DaveTestClient.connect(server, { userId: snowflake(), serverId: guild, channelId: channel });
    clients.push(listener);
    const creds = { serverId: guild, channelId: channel, userId: snowflake(), sessionId: `djs-${snowflake()}`, token: 'djs-token' };
    server.registerSession(creds);
    const child = startDjsClient(
      {
        endpoint: server.endpoint,
        guildId: guild,
        channelId: channel,
        userId: creds.userId,
        sessionId: creds.sessionId,
        token: creds.token,
        action: 'play',
        frequency: 440,
        durationMs: 600,
        waitForDaveMs: 5000,
        timeoutMs: 15_000,
      },
      { blockSodium: false },
    );
    const code = (await child.waitFor('dave')).privacyCode;
    await until(() => listener.privacyCode === code, () => `djs ${String(code)}: ${describeState(guild, [listener])}`);
    expect(server.dave(guild)).toMatchObject({ channelId: channel, established: true, epoch: 1 });
    const run = await child.exited;
    const info = `${describeRun(run)}\n${describeState(guild, [listener])}`;
    expect({ code: run.code, info }).toMatchObject({ code: 0 });
    expect(lineOf(run, 'dave').privacyCode).toMatch(/^\d{30}$/);
    const rec = server.receivedFrom(creds.userId)!;
    expect(rec.e2eeFrames).toBe(30); // 600 ms of tone, every frame E2EE (the 4 silence frames are not)
    expect(rec.decodeFailures).toBe(0);
    await until(() => (listener.received.get(creds.userId)?.length ?? 0) >= 34, () => info);
    expect(listener.decryptFailures).toBe(0);
    // davey hands back the djs client's Opus: it decodes.
    const dec = new OpusEncoder(48000, 2);
    for (const frame of listener.received.get(creds.userId)!) expect(dec.decode(frame).length).toBe(3840);
  });

  test('downgrade while a client without DAVE is connected, upgrade (new group) when it leaves', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const b = await join(channel);
    await settled(channel, [a, b]);
    const aLog = a.log.length;
    const plain = await join(channel, 0);
    expect(plain.protocolVersion).toBe(0);
    await until(() => a.protocolVersion === 0 && b.protocolVersion === 0, () => describeState(channel, [a, b]));
    expect(a.log.slice(aLog).join('|')).toMatch(/prepare_transition \d+ v0\|execute_transition \d+/);
    expect(server.dave(channel)).toMatchObject({ protocolVersion: 0, established: false, members: [] });
    const exec = events.filter((e) => e.type === 'dave-transition' && e.serverId === channel && e.reason === 'downgrade' && e.phase === 'execute');
    expect(exec).toHaveLength(1);
    expect(exec[0]).toMatchObject({ timedOut: false });
    leave(plain);
    await settled(channel, [a, b]);
    expect(a.protocolVersion).toBe(1);
    expect(server.dave(channel)).toMatchObject({ protocolVersion: 1, epoch: 1 });
    expect(a.log.slice(aLog)).toContain('prepare_epoch 1 v1');
  });

  test('forced downgrade and upgrade (fault control)', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const b = await join(channel);
    await settled(channel, [a, b]);
    server.faults.forceDaveDowngrade(channel, true);
    await until(() => a.protocolVersion === 0 && b.protocolVersion === 0, () => describeState(channel, [a, b]));
    server.faults.forceDaveDowngrade(channel, false);
    await settled(channel, [a, b]);
    expect(a.protocolVersion).toBe(1);
  });

  test('key package validation: wrong credential identity is refused', async () => {
    const channel = snowflake();
    const a = await join(channel);
    const { DAVESession } = await import('@snazzah/davey');
    const impostor = new DAVESession(1, snowflake(), channel);
    a.gw.sendBinary(26, impostor.getSerializedKeyPackage());
    a.gw.sendBinary(26, Buffer.from([1, 2, 3]));
    await until(
      () => events.filter((e) => e.type === 'dave-key-package' && e.userId === a.userId && !e.accepted).length === 2,
      () => JSON.stringify(events.filter((e) => e.type === 'dave-key-package')),
    );
    const reasons = events.filter((e) => e.type === 'dave-key-package' && e.userId === a.userId && !e.accepted).map((e) => e.type === 'dave-key-package' && e.reason);
    expect(reasons).toEqual([expect.stringMatching(/identity/), expect.stringMatching(/undecodable/)]);
  });

  test('requireDave with dave: a client without DAVE gets 4017', async () => {
    const strict = await startVoiceServer({ dave: true, requireDave: true });
    try {
      strict.registerSession({ serverId: '1', userId: '2', sessionId: 's', token: 't' });
      const gw = await RawGatewayClient.connect(strict.wsUrl);
      gw.send(0, { server_id: '1', user_id: '2', session_id: 's', token: 't', max_dave_protocol_version: 0 });
      expect(await gw.waitForClose()).toBe(4017);
    } finally {
      await strict.close();
    }
  });

  test('two channels of one guild have separate groups; a member moved out (endSession, 4014) leaves its group and joins the other', async () => {
    const guild = snowflake();
    const [one, two] = [snowflake(), snowflake()];
    const a = await join(guild, 1, one);
    const b = await join(guild, 1, one);
    const c = await join(guild, 1, two);
    const d = await join(guild, 1, two);
    await settled(guild, [a, b], one);
    await settled(guild, [c, d], two);
    expect(server.dave(guild, one)!.channelId).toBe(one);
    expect(a.privacyCode).not.toBe(c.privacyCode);
    expect(a.connected).toEqual(new Set([b.userId])); // op 11 only within the channel
    // b is moved to channel two: its session ends with 4014, then it identifies there.
    expect(server.endSession(b.sessionId)).toBe(true);
    expect(await b.gw.waitForClose()).toBe(4014);
    clients.splice(clients.indexOf(b), 1);
    b.close();
    const moved = await join(guild, 1, two, b.userId);
    await settled(guild, [c, d, moved], two);
    await until(() => !server.dave(guild, one)!.members.includes(b.userId), () => describeState(guild, [a], one));
    expect(server.sessionHistory(b.userId).map((s) => [s.channelId, s.endCode])).toEqual([
      [one, 4014],
      [two, null],
    ]);
    expect(server.endSession(b.sessionId)).toBe(false); // already ended
  });

  test('no internal errors in the DAVE layer', () => {
    for (const c of clients) expect(c.errors).toEqual([]);
    for (const e of events) if (e.type === 'dave-commit' && !e.accepted) expect(e.reason).not.toMatch(/undecodable/);
    expect(channels.size).toBeGreaterThan(5);
    for (const ch of channels) expect(server.dave(ch)?.lastError).toBeUndefined();
  });
});
