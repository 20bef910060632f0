import { createHash } from 'node:crypto';
import { VoiceOpcode } from '../../../protocol/opcodes';
import type { DaveStatus, VoiceServerEvent } from '../../VoiceServer';
import { DaveGroup, type DaveProposalRecord } from './DaveGroup';
import { DaveExternalSender } from './ExternalSender';
import { parseCommitWelcome, snowflakeBytes, validateKeyPackage, varBytes, welcomeFor } from './mls';

/** One client session as the DAVE layer sees it (implemented by startVoiceServer). */
export interface DaveLink {
  readonly userId: string;
  readonly serverId: string;
  /** Channel id from the registered credentials (MLS group id; the emulator passes `serverId` when none was registered). */
  readonly channelId: string;
  /** `max_dave_protocol_version` from IDENTIFY. */
  readonly maxVersion: number;
  /** Sends a JSON message with a `seq` (kept for RESUME replay). */
  sendJson(op: number, d: unknown): void;
  /** Sends a binary frame `[u16 seq][u8 op][payload]` (kept for RESUME replay). */
  sendBinary(op: number, payload: Uint8Array): void;
}

interface LinkState {
  readonly link: DaveLink;
  /** SESSION_DESCRIPTION was sent. */
  described: boolean;
  /** Protocol version this client is on (op 4, then transitions). */
  protocol: number;
  /** Got op 25 for the current protocol-1 period: has a local group, can take proposals. */
  externalSender: boolean;
}

type TransitionReason = 'commit' | 'downgrade';

interface Transition {
  readonly id: number;
  readonly reason: TransitionReason;
  readonly protocol: number;
  readonly targets: Set<string>;
  readonly waiting: Set<string>;
  timer: NodeJS.Timeout | null;
}

/** The key of a channel: a guild's channels are separate calls with separate groups. */
const channelKey = (serverId: string, channelId: string): string => `${serverId}/${channelId}`;

/** Per channel DAVE state. Every mutation runs in `queue`, in arrival order. */
class Channel {
  readonly links = new Map<string, LinkState>();
  /** Users connected without DAVE support (force the channel to protocol 0). */
  readonly nonDave = new Set<string>();
  forcedDowngrade = false;
  protocol: number;
  readonly transitions = new Map<number, Transition>();
  private lastTransitionId = 0;
  executed = 0;
  commitsAccepted = 0;
  commitsRejected = 0;
  invalidReports = 0;
  lastError: string | undefined;
  queue: Promise<void> = Promise.resolve();

  constructor(
    readonly serverId: string,
    readonly channelId: string,
    readonly group: DaveGroup,
    protocol: number,
  ) {
    this.protocol = protocol;
  }

  nextTransitionId(): number {
    this.lastTransitionId = (this.lastTransitionId + 1) & 0xffff || 1;
    return this.lastTransitionId;
  }

  connected(userId: string): boolean {
    return this.links.has(userId);
  }

  /** Clients that hold a local group for protocol 1 (can process proposals). */
  capable(): LinkState[] {
    return [...this.links.values()].filter((l) => l.described && l.protocol === 1 && l.externalSender);
  }

  /** Connected group members that are not pending again. */
  functioning(): string[] {
    return this.group.functioningMembers().filter((u) => this.connected(u));
  }
}

/** Options of {@link DaveCoordinator}. */
export interface DaveCoordinatorOptions {
  /** Wait this long for op 23 from every member before op 22 (ms). */
  transitionTimeoutMs: number;
  emit(event: VoiceServerEvent): void;
}

const u16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n & 0xffff);
  return b;
};

/**
 * The voice gateway's DAVE side (daveprotocol.com): MLS delivery and authentication service
 * for each channel. It sends the external sender (op 25), turns key packages into external
 * Add proposals and departures / op 31 reports into Remove proposals (op 27), picks the first
 * valid commit of each epoch and relays it (op 29) and its welcomes (op 30), runs transitions
 * (ops 21–24), and downgrades / upgrades channels when clients without DAVE come and go.
 *
 * Gateway messages are handled strictly in arrival order: each channel has one task queue
 * (MLS signing in ts-mls is asynchronous).
 */
export class DaveCoordinator {
  private readonly channels = new Map<string, Channel>();
  private readonly corrupt = new Map<string, number>();
  private disposed = false;

  private constructor(
    readonly externalSender: DaveExternalSender,
    private readonly options: DaveCoordinatorOptions,
  ) {}

  static async create(options: DaveCoordinatorOptions): Promise<DaveCoordinator> {
    return new DaveCoordinator(await DaveExternalSender.create(), options);
  }

  // ---- called by the gateway ------------------------------------------------------------

  /** After IDENTIFY (READY and op 11 already sent). */
  join(link: DaveLink): void {
    const ch = this.channelFor(link);
    const previous = ch.links.get(link.userId);
    ch.links.set(link.userId, { link, described: false, protocol: 0, externalSender: false });
    if (previous) {
      // The same user with a new session: its old leaf and key package are stale.
      this.enqueue(ch, async () => {
        const g = ch.group;
        if (g.members.has(link.userId)) g.pendingAgain.add(link.userId);
        const add = g.pendingAdd(link.userId);
        if (add) this.revoke(ch, add);
        g.keyPackages.delete(link.userId);
        this.dropFromTransitions(ch, link.userId);
        await this.settle(ch, true);
      });
    }
    if (link.maxVersion < 1) {
      ch.nonDave.add(link.userId);
      if (ch.protocol === 1) {
        ch.protocol = 0; // from now on op 4 says 0
        this.enqueue(ch, () => this.downgrade(ch));
      }
    } else if (ch.nonDave.delete(link.userId)) {
      this.enqueue(ch, () => this.maybeUpgrade(ch));
    }
  }

  /** `dave_protocol_version` for this client's SESSION_DESCRIPTION. */
  protocolFor(link: DaveLink): number {
    const ch = this.channelOf(link);
    return ch && link.maxVersion >= 1 ? ch.protocol : 0;
  }

  /** After SESSION_DESCRIPTION: op 25, then (initial group creation) the in-flight Adds. */
  described(link: DaveLink): void {
    const ch = this.channelOf(link);
    const st = ch?.links.get(link.userId);
    if (!ch || !st || st.link !== link || st.described) return;
    st.described = true;
    st.protocol = this.protocolFor(link);
    if (st.protocol !== 1) return;
    link.sendBinary(VoiceOpcode.DaveMlsExternalSender, this.externalSender.serialized);
    st.externalSender = true;
    this.enqueue(ch, async () => {
      if (ch.group.established || ch.links.get(link.userId) !== st) return;
      const inFlight = ch.group.proposals.filter((p) => !p.revoked && p.kind === 'add' && p.userId !== link.userId && !p.sentTo.has(link.userId));
      this.sendAppend(ch, inFlight, [link.userId]);
    });
  }

  /** The session ended (not on a resumable disconnect). */
  leave(link: DaveLink): void {
    const ch = this.channelOf(link);
    if (!ch || ch.links.get(link.userId)?.link !== link) return;
    ch.links.delete(link.userId);
    const withoutDave = ch.nonDave.delete(link.userId);
    this.enqueue(ch, async () => {
      const u = link.userId;
      const g = ch.group;
      if (withoutDave) this.maybeUpgrade(ch);
      if (ch.connected(u)) return; // back with a new session already (handled by join)
      const add = g.pendingAdd(u);
      if (add) this.revoke(ch, add);
      g.keyPackages.delete(u);
      this.dropFromTransitions(ch, u);
      await this.settle(ch, true);
    });
  }

  /** Op 26. */
  keyPackage(link: DaveLink, payload: Buffer): void {
    const ch = this.channelOf(link);
    if (!ch) return;
    this.enqueue(ch, async () => {
      const u = link.userId;
      const st = ch.links.get(u);
      const reject = (reason: string): void =>
        this.options.emit({ type: 'dave-key-package', serverId: ch.serverId, userId: u, accepted: false, reason });
      if (!st || st.link !== link) return reject('session gone');
      if (ch.protocol !== 1 || st.protocol !== 1) return reject('channel is not on DAVE protocol 1');
      const v = await validateKeyPackage(payload, u);
      if (!v.ok) return reject(v.reason);
      if (ch.links.get(u) !== st) return reject('session gone');
      this.options.emit({ type: 'dave-key-package', serverId: ch.serverId, userId: u, accepted: true });
      const g = ch.group;
      const old = g.pendingAdd(u);
      if (old) this.revoke(ch, old); // a pending member replaces its key package
      if (g.established && g.members.has(u) && !g.pendingAgain.has(u)) {
        // A member that starts over without op 31: treat it as pending again.
        g.pendingAgain.add(u);
        this.dropFromTransitions(ch, u);
      }
      g.keyPackages.set(u, v.value);
      await this.settle(ch);
    });
  }

  /** Op 28. */
  commitWelcome(link: DaveLink, payload: Buffer): void {
    const ch = this.channelOf(link);
    if (!ch) return;
    this.enqueue(ch, async () => {
      const u = link.userId;
      const g = ch.group;
      const reject = (reason: string, epoch = -1): void => {
        ch.commitsRejected++;
        this.options.emit({ type: 'dave-commit', serverId: ch.serverId, userId: u, epoch, accepted: false, reason });
      };
      const st = ch.links.get(u);
      if (!st || st.link !== link) return reject('session gone');
      if (ch.protocol !== 1 || st.protocol !== 1 || !st.externalSender) return reject('channel is not on DAVE protocol 1');
      const parsed = parseCommitWelcome(payload);
      if (!parsed.ok) return reject(parsed.reason);
      const c = parsed.value;
      const checked = g.validateCommit(u, c);
      if (!checked.ok) return reject(checked.reason, Number(c.epoch));
      // First valid commit of the epoch: it wins.
      const before = g.established ? ch.functioning() : [u];
      const applied = g.applyCommit(u, checked.proposals);
      ch.commitsAccepted++;
      const tid = ch.nextTransitionId();
      const announce = Buffer.concat([u16(tid), c.commitMessage]);
      for (const m of before) ch.links.get(m)?.link.sendBinary(VoiceOpcode.DaveMlsAnnounceCommitTransition, announce);
      this.options.emit({
        type: 'dave-commit',
        serverId: ch.serverId,
        userId: u,
        epoch: Number(applied.epoch),
        accepted: true,
        transitionId: tid,
        added: applied.added.map((a) => a.userId),
        removed: applied.removed.map((r) => r.userId),
      });
      for (const a of applied.added) {
        const target = ch.links.get(a.userId);
        const welcome = c.welcome && welcomeFor(c.welcome, a.keyPackage.ref);
        if (!target || !welcome) continue;
        const left = this.corrupt.get(a.userId) ?? 0;
        const bytes = Buffer.from(welcome);
        if (left > 0) {
          // Flip the tail (the encrypted GroupInfo's AEAD tag): the welcome no longer opens.
          for (let i = Math.max(0, bytes.length - 4); i < bytes.length; i++) bytes[i] ^= 0xa5;
          if (left === 1) this.corrupt.delete(a.userId);
          else this.corrupt.set(a.userId, left - 1);
        }
        target.link.sendBinary(VoiceOpcode.DaveMlsWelcome, Buffer.concat([u16(tid), bytes]));
        this.options.emit({ type: 'dave-welcome', serverId: ch.serverId, userId: a.userId, transitionId: tid, corrupted: left > 0 });
      }
      this.startTransition(ch, tid, 'commit', 1, ch.functioning());
      await this.settle(ch);
    });
  }

  /** Op 23. */
  transitionReady(link: DaveLink, transitionId: number): void {
    const ch = this.channelOf(link);
    if (!ch) return;
    this.enqueue(ch, async () => {
      const t = ch.transitions.get(transitionId);
      if (t && t.waiting.delete(link.userId) && t.waiting.size === 0) this.execute(ch, t, false);
    });
  }

  /** Op 31: the client could not process a commit or welcome. */
  invalidCommitWelcome(link: DaveLink, transitionId: number): void {
    const ch = this.channelOf(link);
    if (!ch) return;
    this.enqueue(ch, async () => {
      const u = link.userId;
      if (ch.links.get(u)?.link !== link) return;
      ch.invalidReports++;
      this.options.emit({ type: 'dave-invalid', serverId: ch.serverId, userId: u, transitionId });
      const g = ch.group;
      if (g.members.has(u)) g.pendingAgain.add(u); // Remove proposal follows; the user is pending again
      const add = g.pendingAdd(u);
      if (add) this.revoke(ch, add); // its key package died with its state
      g.keyPackages.delete(u);
      this.dropFromTransitions(ch, u);
      await this.settle(ch);
    });
  }

  // ---- observability and faults -----------------------------------------------------------

  status(serverId?: string, channelId?: string): DaveStatus | undefined {
    const ch =
      serverId !== undefined && channelId !== undefined
        ? this.channels.get(channelKey(serverId, channelId))
        : [...this.channels.values()].find((c) => serverId === undefined || c.serverId === serverId);
    if (!ch) return undefined;
    const g = ch.group;
    const members = [...g.members.entries()].sort((a, b) => a[1] - b[1]).map(([u]) => u);
    const functioning = new Set(g.functioningMembers());
    const pending =
      ch.protocol === 1 ? [...ch.links.values()].filter((l) => l.link.maxVersion >= 1 && !functioning.has(l.link.userId)).map((l) => l.link.userId) : [];
    return {
      serverId: ch.serverId,
      channelId: ch.channelId,
      protocolVersion: ch.protocol,
      established: g.established,
      epoch: Number(g.epoch),
      members,
      leaves: Object.fromEntries(g.members),
      pending,
      transitions: ch.executed,
      commitsAccepted: ch.commitsAccepted,
      commitsRejected: ch.commitsRejected,
      invalidReports: ch.invalidReports,
      ...(ch.lastError !== undefined ? { lastError: ch.lastError } : {}),
    };
  }

  /** Corrupts the next `count` welcomes sent to `userId`. */
  corruptWelcome(userId: string, count: number): void {
    if (count > 0) this.corrupt.set(userId, count);
    else this.corrupt.delete(userId);
  }

  /** Forces the guild's channels (or one) to protocol 0 (as if a client without DAVE were there) or lets them upgrade back. */
  forceDowngrade(serverId: string, downgrade: boolean, channelId?: string): void {
    for (const ch of this.channels.values()) {
      if (ch.serverId !== serverId || (channelId !== undefined && ch.channelId !== channelId)) continue;
      ch.forcedDowngrade = downgrade;
      if (downgrade && ch.protocol === 1) {
        ch.protocol = 0;
        this.enqueue(ch, () => this.downgrade(ch));
      } else if (!downgrade) {
        this.enqueue(ch, () => this.maybeUpgrade(ch));
      }
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const ch of this.channels.values()) {
      for (const t of ch.transitions.values()) if (t.timer) clearTimeout(t.timer);
      ch.transitions.clear();
    }
  }

  // ---- internals --------------------------------------------------------------------------

  /** The link's channel, if a client of it joined. */
  private channelOf(link: DaveLink): Channel | undefined {
    return this.channels.get(channelKey(link.serverId, link.channelId));
  }

  private channelFor(link: DaveLink): Channel {
    const key = channelKey(link.serverId, link.channelId);
    let ch = this.channels.get(key);
    if (!ch) {
      const channelId = link.channelId;
      // The group id is the channel id as a big-endian u64 (libdave/davey); non-snowflake ids get
      // a stable 8-byte stand-in (no DAVE client could join such a channel anyway).
      const groupId = snowflakeBytes(channelId) ?? createHash('sha256').update(channelId).digest().subarray(0, 8);
      ch = new Channel(link.serverId, channelId, new DaveGroup(groupId, this.externalSender), link.maxVersion >= 1 ? 1 : 0);
      this.channels.set(key, ch);
    }
    return ch;
  }

  private enqueue(ch: Channel, task: () => Promise<void> | void): void {
    ch.queue = ch.queue
      .then(async () => {
        if (!this.disposed) await task();
      })
      .catch((err: unknown) => {
        ch.lastError = err instanceof Error ? err.stack ?? err.message : String(err);
      });
  }

  /** Sends proposals (op 27 append) to each recipient and records who got them. */
  private sendAppend(ch: Channel, records: DaveProposalRecord[], recipients: string[]): void {
    if (records.length === 0 || recipients.length === 0) return;
    const payload = Buffer.concat([Buffer.from([0]), varBytes(Buffer.concat(records.map((r) => r.message)))]);
    const sent: string[] = [];
    for (const u of recipients) {
      const st = ch.links.get(u);
      if (!st) continue;
      st.link.sendBinary(VoiceOpcode.DaveMlsProposals, payload);
      for (const r of records) r.sentTo.add(u);
      sent.push(u);
    }
    if (sent.length === 0) return;
    this.options.emit({
      type: 'dave-proposals',
      serverId: ch.serverId,
      operation: 'append',
      epoch: Number(ch.group.epoch),
      proposals: records.map((r) => ({ kind: r.kind, userId: r.userId })),
      recipients: sent,
    });
  }

  /** Revokes an in-flight proposal (op 27 revoke) for everyone it was sent to. */
  private revoke(ch: Channel, record: DaveProposalRecord): void {
    record.revoked = true;
    const payload = Buffer.concat([Buffer.from([1]), varBytes(varBytes(record.ref))]);
    const sent: string[] = [];
    for (const u of record.sentTo) {
      const st = ch.links.get(u);
      if (!st || !st.externalSender) continue;
      st.link.sendBinary(VoiceOpcode.DaveMlsProposals, payload);
      sent.push(u);
    }
    if (sent.length === 0) return;
    this.options.emit({
      type: 'dave-proposals',
      serverId: ch.serverId,
      operation: 'revoke',
      epoch: Number(ch.group.epoch),
      proposals: [{ kind: record.kind, userId: record.userId }],
      recipients: sent,
    });
  }

  /**
   * Brings proposals in line with who is connected: sole member reset when a departure left one
   * member, Remove for members gone or pending again, Add for pending users with a key package.
   * Runs after every membership change and every accepted commit.
   */
  private async settle(ch: Channel, afterLeave = false): Promise<void> {
    if (ch.protocol !== 1) return;
    const g = ch.group;
    if (g.established) {
      const remaining = [...g.members.keys()].filter((u) => ch.connected(u));
      const functioning = remaining.filter((u) => !g.pendingAgain.has(u));
      if (functioning.length === 0) {
        g.reset(); // nobody left who could commit: start over with whoever is pending
      } else if (afterLeave && remaining.length === 1) {
        this.soleMemberReset(ch, functioning[0]);
      }
    }
    if (g.established) {
      const fresh: DaveProposalRecord[] = [];
      for (const u of [...g.members.keys()]) {
        if ((ch.connected(u) && !g.pendingAgain.has(u)) || g.pendingRemove(u)) continue;
        const r = await g.proposeRemove(u);
        if (r) fresh.push(r);
      }
      for (const st of ch.capable()) {
        const u = st.link.userId;
        const kp = g.keyPackages.get(u);
        if (!kp || (g.members.has(u) && !g.pendingAgain.has(u)) || g.pendingAdd(u)) continue;
        fresh.push(await g.proposeAdd(u, kp));
      }
      this.sendAppend(ch, fresh, ch.functioning());
    } else {
      const capable = ch.capable();
      const fresh: DaveProposalRecord[] = [];
      for (const st of capable) {
        const u = st.link.userId;
        const kp = g.keyPackages.get(u);
        if (!kp || g.pendingAdd(u)) continue;
        fresh.push(await g.proposeAdd(u, kp));
      }
      // Initial group creation: each pending member gets the Adds of the others.
      for (const st of capable) {
        const u = st.link.userId;
        if (ch.links.get(u) !== st) continue;
        this.sendAppend(ch, fresh.filter((r) => r.userId !== u), [u]);
      }
    }
  }

  /** Sole member reset (daveprotocol.com): op 24 epoch 1, op 21 transition 0, new unestablished group. */
  private soleMemberReset(ch: Channel, userId: string): void {
    const st = ch.links.get(userId);
    ch.group.reset();
    if (!st) return;
    st.link.sendJson(VoiceOpcode.DavePrepareEpoch, { protocol_version: 1, epoch: 1 });
    st.link.sendJson(VoiceOpcode.DavePrepareTransition, { protocol_version: 1, transition_id: 0 });
    this.options.emit({
      type: 'dave-transition',
      serverId: ch.serverId,
      transitionId: 0,
      phase: 'prepare-epoch',
      reason: 'sole-member-reset',
      protocolVersion: 1,
      epoch: 1,
      users: [userId],
    });
  }

  private startTransition(ch: Channel, id: number, reason: TransitionReason, protocol: number, users: string[]): void {
    const t: Transition = { id, reason, protocol, targets: new Set(users), waiting: new Set(users), timer: null };
    ch.transitions.set(id, t);
    this.options.emit({
      type: 'dave-transition',
      serverId: ch.serverId,
      transitionId: id,
      phase: 'prepare',
      reason,
      protocolVersion: protocol,
      epoch: Number(ch.group.epoch),
      users,
    });
    if (t.waiting.size === 0) {
      this.execute(ch, t, false);
      return;
    }
    t.timer = setTimeout(() => {
      t.timer = null;
      this.enqueue(ch, async () => {
        if (ch.transitions.get(id) === t) this.execute(ch, t, true);
      });
    }, this.options.transitionTimeoutMs);
  }

  /** Op 22 to the transition's users that are still here. */
  private execute(ch: Channel, t: Transition, timedOut: boolean): void {
    if (t.timer) clearTimeout(t.timer);
    t.timer = null;
    ch.transitions.delete(t.id);
    // A commit transition: not to users that reported it invalid (op 31) or left the group since.
    const functioning = new Set(ch.functioning());
    const users = [...t.targets].filter((u) => ch.connected(u) && (t.reason !== 'commit' || functioning.has(u)));
    for (const u of users) ch.links.get(u)!.link.sendJson(VoiceOpcode.DaveExecuteTransition, { transition_id: t.id });
    ch.executed++;
    this.options.emit({
      type: 'dave-transition',
      serverId: ch.serverId,
      transitionId: t.id,
      phase: 'execute',
      reason: t.reason,
      protocolVersion: t.protocol,
      epoch: Number(ch.group.epoch),
      users,
      timedOut,
      notReady: [...t.waiting],
    });
    if (t.reason === 'downgrade') {
      for (const u of users) {
        const st = ch.links.get(u)!;
        st.protocol = 0;
        st.externalSender = false;
      }
    }
  }

  private dropFromTransitions(ch: Channel, userId: string): void {
    for (const t of [...ch.transitions.values()]) {
      if (t.waiting.delete(userId) && t.waiting.size === 0) this.execute(ch, t, false);
    }
  }

  /** A client without DAVE joined (or a forced downgrade): every DAVE client goes to protocol 0. */
  private downgrade(ch: Channel): void {
    const g = ch.group;
    for (const p of g.proposals) p.revoked = true;
    g.reset();
    g.keyPackages.clear();
    for (const t of [...ch.transitions.values()]) if (t.reason === 'commit') this.execute(ch, t, false);
    const users = [...ch.links.values()].filter((l) => l.described && l.protocol === 1).map((l) => l.link.userId);
    if (users.length === 0) return;
    const id = ch.nextTransitionId();
    for (const u of users) ch.links.get(u)!.link.sendJson(VoiceOpcode.DavePrepareTransition, { protocol_version: 0, transition_id: id });
    this.startTransition(ch, id, 'downgrade', 0, users);
  }

  /** Upgrades when no client without DAVE (and no forced downgrade) is left. */
  private maybeUpgrade(ch: Channel): void {
    if (ch.protocol === 0 && ch.nonDave.size === 0 && !ch.forcedDowngrade) this.upgrade(ch);
  }

  /** The last client without DAVE left: a new group is created (op 24 epoch 1, op 25). */
  private upgrade(ch: Channel): void {
    for (const t of [...ch.transitions.values()]) if (t.reason === 'downgrade') this.execute(ch, t, false);
    ch.protocol = 1;
    ch.group.reset();
    ch.group.keyPackages.clear();
    const users: string[] = [];
    for (const st of ch.links.values()) {
      if (!st.described || st.link.maxVersion < 1) continue;
      st.link.sendJson(VoiceOpcode.DavePrepareEpoch, { protocol_version: 1, epoch: 1 });
      st.link.sendBinary(VoiceOpcode.DaveMlsExternalSender, this.externalSender.serialized);
      st.protocol = 1;
      st.externalSender = true;
      users.push(st.link.userId);
    }
    this.options.emit({
      type: 'dave-transition',
      serverId: ch.serverId,
      transitionId: 0,
      phase: 'prepare-epoch',
      reason: 'upgrade',
      protocolVersion: 1,
      epoch: 1,
      users,
    });
  }
}
