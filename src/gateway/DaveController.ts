import { BehaviorSubject, type Observable } from 'rxjs';
import davey from '@snazzah/davey';
import { isOpusSilence } from '../core/audioFormat';
import { RxVoiceError } from '../errors';
import { encodeClientBinaryFrame, VoiceOpcode, type VoiceMessage } from '../protocol/opcodes';

/** DAVE end-to-end encryption state of a connection (daveprotocol.com). */
export interface DaveState {
  /**
   * `disabled`: no DAVE on this voice session: before SESSION_DESCRIPTION (also again at
   * each new session, e.g. after a channel move), with `dave: false`, or the server chose
   * protocol 0 from the start; `pending`: waiting to join or create the MLS group;
   * `active`: media is end-to-end encrypted; `passthrough`: the channel downgraded to
   * transport-only encryption (a member without DAVE joined).
   */
  status: 'disabled' | 'pending' | 'active' | 'passthrough';
  /** Protocol version in use (0 = transport encryption only, 1 = DAVE v1). */
  protocolVersion: number;
  /** MLS epoch, or null without a group. */
  epoch: number | null;
  /** The 30-digit voice privacy code (same for every member of the epoch), or null. */
  privacyCode: string | null;
}

/** Options of {@link DaveController}. */
export interface DaveControllerOptions {
  userId: string;
  /** Sends a gateway message (JSON) or a client binary frame. */
  send(data: VoiceMessage | Buffer): void;
  /** Consecutive decryption failures tolerated before re-initialising. Default 36 (≈ 0.7 s of one speaker). */
  failureTolerance?: number;
  log?(message: string): void;
}

/**
 * davey's `MediaType.AUDIO`. Its typings declare a `const enum` whose runtime object is empty,
 * so the value is inlined here (transpile-only builds cannot inline it).
 */
const MEDIA_TYPE_AUDIO = 0;
/** Passthrough window after a downgrade is prepared, s (protocol: ~24 s covers the transition). */
const PASSTHROUGH_PENDING_DOWNGRADE_S = 24;
/** Passthrough window after an upgrade or reset, s (protocol: keys are kept ~10 s). */
const PASSTHROUGH_TRANSITION_S = 10;

/**
 * The client side of DAVE for one voice connection: reacts to gateway ops 21–31 in
 * arrival order, drives an `@snazzah/davey` MLS session (rxvoice never implements MLS),
 * and end-to-end encrypts / decrypts Opus frames.
 *
 * Protocol facts: daveprotocol.com — "Protocol Version Changes", "Initial Group
 * Creation", "Proposal Handling", "Commit Handling", "Recovery from Invalid Commit or
 * Welcome", "Sole member reset"; binary layouts in PROTOCOL.md.
 */
export class DaveController {
  private session: InstanceType<typeof davey.DAVESession> | null = null;
  private protocolVersion = 0;
  private readonly pendingTransitions = new Map<number, number>();
  private lastTransitionId: number | null = null;
  private downgraded = false;
  private reinitializing = false;
  private consecutiveFailures = 0;
  /** User ids the gateway announced (op 11 minus op 13): proposals for others are refused. */
  private readonly knownUsers = new Set<string>();
  private readonly state = new BehaviorSubject<DaveState>({ status: 'disabled', protocolVersion: 0, epoch: null, privacyCode: null });
  readonly state$: Observable<DaveState> = this.state.asObservable();
  private readonly tolerance: number;
  /** The channel of the current session: the MLS group id (`start`). */
  private channelId = '';

  constructor(private readonly options: DaveControllerOptions) {
    this.tolerance = options.failureTolerance ?? 36;
  }

  get current(): DaveState {
    return this.state.value;
  }

  /**
   * SESSION_DESCRIPTION said `dave_protocol_version`: start (or restart) the session in the
   * group of `channelId` (the channel the connection is in now: a move changes it).
   */
  start(protocolVersion: number, channelId: string): void {
    this.channelId = channelId;
    this.protocolVersion = protocolVersion;
    this.forgetTransitions();
    if (protocolVersion > 0) this.reinit();
    else this.resetSession();
    this.publish();
  }

  /**
   * A new voice session starts (IDENTIFY sent): the old group is gone, and so are the users
   * op 11 announced. Back to `disabled` until SESSION_DESCRIPTION (`start`).
   */
  reset(): void {
    this.dropSession();
    this.protocolVersion = 0;
    this.forgetTransitions();
    this.knownUsers.clear();
    this.publish();
  }

  /** No transition pending, no downgrade, no recovery under way. */
  private forgetTransitions(): void {
    this.pendingTransitions.clear();
    this.lastTransitionId = null;
    this.downgraded = false;
    this.reinitializing = false;
    this.consecutiveFailures = 0;
  }

  /** A JSON gateway message (in arrival order). */
  onMessage(msg: VoiceMessage): void {
    const d = (msg.d ?? {}) as Record<string, unknown>;
    switch (msg.op) {
      case VoiceOpcode.ClientsConnect:
        if (Array.isArray(d.user_ids)) for (const id of d.user_ids) if (typeof id === 'string') this.knownUsers.add(id);
        return;
      case VoiceOpcode.ClientDisconnect:
        if (typeof d.user_id === 'string') this.knownUsers.delete(d.user_id);
        return;
      case VoiceOpcode.DavePrepareTransition:
        return this.prepareTransition(Number(d.transition_id), Number(d.protocol_version));
      case VoiceOpcode.DaveExecuteTransition:
        this.executeTransition(Number(d.transition_id));
        return this.publish();
      case VoiceOpcode.DavePrepareEpoch:
        if (Number(d.epoch) === 1) {
          // The group is (re)created: reset and send a fresh key package.
          this.protocolVersion = Number(d.protocol_version);
          this.reinit();
        }
        return this.publish();
      default:
        return;
    }
  }

  /** A binary gateway frame (DAVE ops 25, 27, 29, 30), in arrival order. Never throws. */
  onBinary(op: number, payload: Buffer): void {
    try {
      switch (op) {
        case VoiceOpcode.DaveMlsExternalSender:
          this.session?.setExternalSender(payload);
          break;
        case VoiceOpcode.DaveMlsProposals: {
          if (!this.session || payload.length < 1) break;
          const { commit, welcome } = this.session.processProposals(payload[0], payload.subarray(1), [...this.knownUsers]);
          if (commit) this.sendBinary(VoiceOpcode.DaveMlsCommitWelcome, welcome ? Buffer.concat([commit, welcome]) : commit);
          break;
        }
        case VoiceOpcode.DaveMlsAnnounceCommitTransition:
          this.applyHandshake(payload, (body) => this.session!.processCommit(body));
          break;
        case VoiceOpcode.DaveMlsWelcome:
          this.applyHandshake(payload, (body) => this.session!.processWelcome(body));
          break;
        default:
          break;
      }
    } catch (err) {
      this.log(`DAVE op ${op} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    this.publish();
  }

  /** End-to-end encrypts an Opus frame when DAVE is active (silence frames stay plain). */
  encrypt(frame: Buffer): Buffer {
    const s = this.session;
    if (this.protocolVersion === 0 || !s?.ready || isOpusSilence(frame)) return frame;
    return s.encryptOpus(frame);
  }

  /**
   * Decrypts a frame from `userId`. Returns the frame as is when it cannot be E2EE (silence,
   * no group yet, passthrough), null when decryption failed (the packet is dropped; after
   * `failureTolerance` consecutive failures the session recovers with op 31 and a new key package).
   */
  decrypt(userId: string, frame: Buffer): Buffer | null {
    const s = this.session;
    if (!s || isOpusSilence(frame) || !s.ready) return frame;
    if (this.protocolVersion === 0 && !s.canPassthrough(userId)) return frame;
    try {
      const out = s.decrypt(userId, MEDIA_TYPE_AUDIO, frame);
      this.consecutiveFailures = 0;
      return out;
    } catch {
      if (!this.reinitializing && this.pendingTransitions.size === 0) {
        this.consecutiveFailures++;
        if (this.consecutiveFailures > this.tolerance) this.recover(this.lastTransitionId ?? 0);
      }
      return null;
    }
  }

  /** Verification code of another member (45 digits): compare out of band. */
  async verificationCode(userId: string): Promise<string> {
    if (!this.session?.ready) throw new RxVoiceError('DAVE_NOT_ACTIVE', 'DAVE is not active on this connection');
    try {
      return await this.session.getVerificationCode(userId);
    } catch (err) {
      // davey rejects a user who is not a member of the MLS group ("Invalid user id").
      throw new RxVoiceError('INVALID_ARGUMENT', `no verification code for user ${JSON.stringify(userId)}: not a member of this call's DAVE group (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
  }

  dispose(): void {
    this.dropSession();
    this.state.complete();
  }

  private dropSession(): void {
    try {
      this.session?.reset();
    } catch {
      // already gone
    }
    this.session = null;
  }

  private prepareTransition(transitionId: number, protocolVersion: number): void {
    this.pendingTransitions.set(transitionId, protocolVersion);
    if (transitionId === 0) {
      this.executeTransition(0); // sole-member reset / initialisation: at once
    } else {
      if (protocolVersion === 0) this.session?.setPassthroughMode(true, PASSTHROUGH_PENDING_DOWNGRADE_S);
      this.options.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: transitionId } });
    }
    this.publish();
  }

  private executeTransition(transitionId: number): void {
    const next = this.pendingTransitions.get(transitionId);
    if (next === undefined) return;
    const previous = this.protocolVersion;
    this.protocolVersion = next;
    if (previous !== next && next === 0) {
      this.downgraded = true;
    } else if (transitionId > 0 && this.downgraded) {
      this.downgraded = false;
      this.session?.setPassthroughMode(true, PASSTHROUGH_TRANSITION_S);
    }
    this.reinitializing = false;
    this.lastTransitionId = transitionId;
    this.pendingTransitions.delete(transitionId);
  }

  /** op 29 / op 30: `[u16 transition_id][commit | welcome]`. */
  private applyHandshake(payload: Buffer, apply: (body: Buffer) => void): void {
    if (!this.session || payload.length < 2) return;
    const transitionId = payload.readUInt16BE(0);
    try {
      apply(payload.subarray(2));
    } catch (err) {
      this.log(`DAVE handshake for transition ${transitionId} invalid: ${err instanceof Error ? err.message : String(err)}`);
      this.recover(transitionId);
      return;
    }
    if (transitionId === 0) {
      this.reinitializing = false;
      this.lastTransitionId = 0;
    } else {
      this.pendingTransitions.set(transitionId, this.protocolVersion);
      this.options.send({ op: VoiceOpcode.DaveTransitionReady, d: { transition_id: transitionId } });
    }
  }

  /** Invalid commit/welcome or too many failures: op 31, reset, fresh key package. */
  private recover(transitionId: number): void {
    if (this.reinitializing) return;
    this.reinitializing = true;
    this.consecutiveFailures = 0;
    this.options.send({ op: VoiceOpcode.DaveMlsInvalidCommitWelcome, d: { transition_id: transitionId } });
    this.reinit();
  }

  private reinit(): void {
    if (this.protocolVersion > 0) {
      try {
        if (this.session) this.session.reinit(this.protocolVersion, this.options.userId, this.channelId);
        else this.session = new davey.DAVESession(this.protocolVersion, this.options.userId, this.channelId);
        this.sendBinary(VoiceOpcode.DaveMlsKeyPackage, this.session.getSerializedKeyPackage());
      } catch (err) {
        // e.g. ids that are not numeric snowflakes (the MLS identity is the user id as a u64):
        // stay without E2EE rather than take the process down; a DAVE-only server closes with 4017.
        this.log(`DAVE session could not start: ${err instanceof Error ? err.message : String(err)}`);
        this.session = null;
        this.protocolVersion = 0;
      }
    } else {
      this.resetSession();
    }
  }

  private resetSession(): void {
    if (!this.session) return;
    this.session.reset();
    this.session.setPassthroughMode(true, PASSTHROUGH_TRANSITION_S);
  }

  private sendBinary(op: number, payload: Buffer): void {
    this.options.send(encodeClientBinaryFrame(op, payload));
  }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private publish(): void {
    if (this.state.closed) return;
    const s = this.session;
    const ready = !!s?.ready;
    const epoch = s?.epoch ?? null;
    const next: DaveState = {
      status:
        this.protocolVersion === 0
          ? this.downgraded
            ? 'passthrough'
            : 'disabled'
          : ready
            ? 'active'
            : 'pending',
      protocolVersion: this.protocolVersion,
      epoch: epoch === null ? null : Number(epoch),
      privacyCode: ready && s!.voicePrivacyCode ? s!.voicePrivacyCode : null,
    };
    const prev = this.state.value;
    if (
      prev.status !== next.status ||
      prev.protocolVersion !== next.protocolVersion ||
      prev.epoch !== next.epoch ||
      prev.privacyCode !== next.privacyCode
    ) {
      this.state.next(next);
    }
  }
}
