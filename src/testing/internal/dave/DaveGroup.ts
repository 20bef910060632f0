import type { DaveExternalSender } from './ExternalSender';
import { equalBytes, hex, snowflakeBytes, type ParsedCommitWelcome, type ValidatedKeyPackage } from './mls';

/** A proposal the gateway broadcast in the current epoch. */
export interface DaveProposalRecord {
  ref: Uint8Array;
  refHex: string;
  /** MLSMessage bytes (PublicMessage from the external sender). */
  message: Uint8Array;
  kind: 'add' | 'remove';
  /** Who is added or removed. */
  userId: string;
  /** Remove: the leaf being removed. */
  leafIndex: number | null;
  /** Add: the key package. */
  keyPackage: ValidatedKeyPackage | null;
  /** Users this proposal was sent to (op 27 append). */
  readonly sentTo: Set<string>;
  revoked: boolean;
}

/** What an accepted commit changed. */
export interface AppliedCommit {
  /** Epoch the commit was made in (the group is now at `epoch + 1`). */
  epoch: bigint;
  added: Array<{ userId: string; leafIndex: number; keyPackage: ValidatedKeyPackage }>;
  removed: Array<{ userId: string; leafIndex: number }>;
}

/**
 * The delivery service's view of one channel's MLS group (daveprotocol.com, "Delivery
 * Service"): group id, epoch, whether it is established, each member's leaf index, pending
 * members' key packages, and the proposals broadcast in the current epoch. It cannot read the
 * group's secrets: it follows the tree shape from the commits it accepts (removes blank
 * leaves, adds fill the leftmost blank leaf in commit order, RFC 9420 §12.3).
 *
 * Pure state; sending is the coordinator's job. Not re-entrant: callers serialise calls.
 */
export class DaveGroup {
  established = false;
  /** Current MLS epoch (0 while unestablished: every pending member's local group is at 0). */
  epoch = 0n;
  /** Group members (server view) → leaf index. */
  readonly members = new Map<string, number>();
  /** Members that reported op 31 (or whose session is gone): still in the tree, pending again. */
  readonly pendingAgain = new Set<string>();
  /** Latest valid key package of each pending user. */
  readonly keyPackages = new Map<string, ValidatedKeyPackage>();
  /** Signature key each member joined with (checked against commit update paths). */
  private readonly signatureKeys = new Map<string, Uint8Array>();
  /** Proposals of the current epoch, in broadcast order. */
  proposals: DaveProposalRecord[] = [];

  constructor(
    /** MLS group id: the channel id as a big-endian u64 (what libdave/davey use). */
    readonly groupId: Uint8Array,
    private readonly sender: DaveExternalSender,
  ) {}

  /** Forget the group (sole member reset, downgrade, no member left): back to initial creation. */
  reset(): void {
    this.established = false;
    this.epoch = 0n;
    this.members.clear();
    this.pendingAgain.clear();
    this.signatureKeys.clear();
    this.proposals = [];
  }

  /** Members that take part in the group: in it and not pending again. */
  functioningMembers(): string[] {
    return [...this.members.keys()].filter((u) => !this.pendingAgain.has(u));
  }

  /** Unrevoked proposal of this epoch adding `userId`, if any. */
  pendingAdd(userId: string): DaveProposalRecord | undefined {
    return this.proposals.find((p) => !p.revoked && p.kind === 'add' && p.userId === userId);
  }

  /** Unrevoked proposal of this epoch removing `userId`, if any. */
  pendingRemove(userId: string): DaveProposalRecord | undefined {
    return this.proposals.find((p) => !p.revoked && p.kind === 'remove' && p.userId === userId);
  }

  /** Signs an external Add for `userId`'s key package at the current epoch and records it. */
  async proposeAdd(userId: string, keyPackage: ValidatedKeyPackage): Promise<DaveProposalRecord> {
    const signed = await this.sender.proposeAdd(this.groupId, this.epoch, keyPackage.keyPackage);
    return this.record({ ...signed, kind: 'add', userId, leafIndex: null, keyPackage });
  }

  /** Signs an external Remove for `userId`'s leaf at the current epoch and records it. */
  async proposeRemove(userId: string): Promise<DaveProposalRecord | null> {
    const leaf = this.members.get(userId);
    if (leaf === undefined) return null;
    const signed = await this.sender.proposeRemove(this.groupId, this.epoch, leaf);
    return this.record({ ...signed, kind: 'remove', userId, leafIndex: leaf, keyPackage: null });
  }

  private record(r: Omit<DaveProposalRecord, 'refHex' | 'sentTo' | 'revoked'>): DaveProposalRecord {
    const rec: DaveProposalRecord = { ...r, refHex: hex(r.ref), sentTo: new Set(), revoked: false };
    this.proposals.push(rec);
    return rec;
  }

  /**
   * Checks a commit from `committer` (daveprotocol.com, "Voice Gateway Commit Validity" and
   * "Commit Ordering"): for this group and epoch (first commit of an epoch wins: a commit for
   * an older epoch is stale), from the committer's own leaf, only proposal references, exactly
   * the unrevoked proposals sent to the committer this epoch, a Welcome for every added key
   * package, and an update path that keeps the committer's credential and signature key.
   */
  validateCommit(committer: string, c: ParsedCommitWelcome): { ok: true; proposals: DaveProposalRecord[] } | { ok: false; reason: string } {
    if (!equalBytes(c.groupId, this.groupId)) return { ok: false, reason: 'commit for another group id' };
    if (c.epoch < this.epoch) return { ok: false, reason: `stale commit for epoch ${c.epoch} (group at ${this.epoch})` };
    if (c.epoch > this.epoch) return { ok: false, reason: `commit for future epoch ${c.epoch} (group at ${this.epoch})` };
    if (this.established) {
      const leaf = this.members.get(committer);
      if (leaf === undefined || this.pendingAgain.has(committer)) return { ok: false, reason: 'committer is not a member' };
      if (c.senderLeaf !== leaf) return { ok: false, reason: `commit sender leaf ${c.senderLeaf}, committer is leaf ${leaf}` };
    } else if (c.senderLeaf !== 0) {
      return { ok: false, reason: `initial commit from leaf ${c.senderLeaf}, expected 0` };
    }
    if (c.inlineProposals > 0) return { ok: false, reason: 'commit includes proposals by value' };
    if (c.refs.length === 0) return { ok: false, reason: 'commit references no proposals' };
    const byRef = new Map(this.proposals.map((p) => [p.refHex, p]));
    const used: DaveProposalRecord[] = [];
    const seen = new Set<string>();
    for (const ref of c.refs) {
      const key = hex(ref);
      const p = byRef.get(key);
      if (!p) return { ok: false, reason: 'commit references an unknown proposal' };
      if (p.revoked) return { ok: false, reason: 'commit references a revoked proposal' };
      if (seen.has(key)) return { ok: false, reason: 'commit references a proposal twice' };
      seen.add(key);
      used.push(p);
    }
    const expected = this.proposals.filter((p) => !p.revoked && p.sentTo.has(committer));
    const missing = expected.filter((p) => !seen.has(p.refHex));
    if (missing.length > 0) return { ok: false, reason: `commit misses ${missing.length} proposal(s) of this epoch` };
    if (used.some((p) => !p.sentTo.has(committer))) return { ok: false, reason: 'commit references a proposal the committer never got' };
    const adds = used.filter((p) => p.kind === 'add');
    if (adds.length > 0) {
      if (!c.welcome) return { ok: false, reason: 'commit adds members but has no welcome' };
      for (const a of adds) {
        if (!c.welcome.secrets.some((s) => equalBytes(s.newMember, a.keyPackage!.ref))) {
          return { ok: false, reason: `welcome has no secrets for ${a.userId}` };
        }
      }
    }
    if (c.pathLeaf) {
      const id = snowflakeBytes(committer);
      if (!c.pathLeaf.identity || !id || !equalBytes(c.pathLeaf.identity, id)) {
        return { ok: false, reason: 'update path changes the committer credential' };
      }
      const key = this.signatureKeys.get(committer) ?? this.keyPackages.get(committer)?.signatureKey;
      if (key && !equalBytes(key, c.pathLeaf.signatureKey)) return { ok: false, reason: 'update path changes the committer signature key' };
    }
    return { ok: true, proposals: used };
  }

  /** Applies a validated commit: new epoch, leaves updated, welcomed key packages dropped. */
  applyCommit(committer: string, used: DaveProposalRecord[]): AppliedCommit {
    const epoch = this.epoch;
    if (!this.established) {
      this.members.clear();
      this.members.set(committer, 0);
      const kp = this.keyPackages.get(committer);
      if (kp) this.signatureKeys.set(committer, kp.signatureKey);
      this.keyPackages.delete(committer);
    }
    const removed: AppliedCommit['removed'] = [];
    for (const p of used) {
      if (p.kind !== 'remove' || p.leafIndex === null) continue;
      for (const [u, leaf] of this.members) {
        if (leaf !== p.leafIndex) continue;
        this.members.delete(u);
        this.pendingAgain.delete(u);
        this.signatureKeys.delete(u);
        removed.push({ userId: u, leafIndex: leaf });
      }
    }
    const added: AppliedCommit['added'] = [];
    for (const p of used) {
      if (p.kind !== 'add' || !p.keyPackage) continue;
      const taken = new Set(this.members.values());
      let leaf = 0;
      while (taken.has(leaf)) leaf++;
      this.members.set(p.userId, leaf);
      this.pendingAgain.delete(p.userId);
      this.signatureKeys.set(p.userId, p.keyPackage.signatureKey);
      if (this.keyPackages.get(p.userId) === p.keyPackage) this.keyPackages.delete(p.userId);
      added.push({ userId: p.userId, leafIndex: leaf, keyPackage: p.keyPackage });
    }
    this.established = true;
    this.epoch = epoch + 1n;
    this.proposals = [];
    return { epoch, added, removed };
  }
}
