import { BehaviorSubject, concat, defer, distinctUntilChanged, EMPTY, finalize, from, shareReplay, Subject, throwError, type Observable } from 'rxjs';
import { RxVoiceError } from '../../errors';
import type { ConnectVoiceOptions, VoiceConnection, VoiceTransport } from '../../gateway/connectVoice';
import type { DaveState } from '../../gateway/DaveController';
import { clientSet, speakingEvents } from '../../gateway/internal/messageViews';
import { VoiceConnectionError } from '../../gateway/VoiceConnectionError';
import type { VoiceConnectionState } from '../../gateway/VoiceConnectionState';
import type { ReceivedPacket, ReceiveStats, Speaker } from '../../gateway/VoiceReceiver';
import type { VoiceUdpSocket } from '../../gateway/VoiceUdpSocket';
import { waitForReady } from '../../gateway/waitForReady';
import type { VoiceMessage } from '../../protocol/opcodes';
import { createTransportCipher, type EncryptionMode } from '../../protocol/transportCrypto';
import { sendLaneOf } from '../../core/SendLane';
import { nextDriverId, pickDriverThread, type DriverClient, type DriverThread } from './DriverPool';
import { packBytes, unpackBytes, type DriverEvent, type PlainConnectOptions, type PlainState } from './messages';
import { setRemoteTarget } from './remoteTarget';

const EMPTY_STATS: ReceiveStats = { packets: 0, malformed: 0, keepAlives: 0, ignored: 0, unknownSsrc: 0, decryptFailures: 0, trackedSsrcs: 0 };

const fromPlainState = (s: PlainState): VoiceConnectionState => {
  if (s.status === 'disconnected') {
    const e = (s as Extract<PlainState, { status: 'disconnected' }>).error;
    return { status: 'disconnected', endpoint: String(s.endpoint ?? ''), error: new VoiceConnectionError(e.code, e.message, { closeCode: e.closeCode ?? undefined }) };
  }
  return s as unknown as VoiceConnectionState;
};

/**
 * A voice connection that runs on a driver thread, as the main thread sees it: the same
 * `VoiceConnection` surface, mirrored from the thread's events (state, gateway messages,
 * ping, DAVE state, receive counters, speakers and their packets), with commands posted to
 * it. Sinks on it play through {@link remotePlayFeed}.
 */
export class DriverConnection implements VoiceConnection, DriverClient {
  readonly guildId: string;
  thread: DriverThread;
  id: number;
  private readonly stateSubject: BehaviorSubject<VoiceConnectionState>;
  readonly state$: Observable<VoiceConnectionState>;
  private readonly messages = new Subject<VoiceMessage>();
  readonly messages$: Observable<VoiceMessage> = this.messages.asObservable();
  private readonly ping = new Subject<number>();
  readonly ping$: Observable<number> = this.ping.asObservable();
  readonly speaking$;
  readonly clients$: Observable<ReadonlySet<string>>;
  private readonly dave = new BehaviorSubject<DaveState>({ status: 'disabled', protocolVersion: 0, epoch: null, privacyCode: null });
  readonly dave$: Observable<DaveState> = this.dave.asObservable();
  readonly speakers$: Observable<Speaker>;
  private readonly speakerSubject = new Subject<Speaker>();
  private readonly speakers = new Map<number, { speaker: Speaker; packets: Subject<ReceivedPacket> }>();
  private receivers = 0;
  private stats: ReceiveStats = EMPTY_STATS;
  private transportView: VoiceTransport | null = null;
  private readonly verifications = new Map<number, { resolve(code: string): void; reject(err: Error): void }>();
  private nextReq = 1;
  private speakingFlags: number | null = null;
  private options: PlainConnectOptions;
  private destroyed = false;
  private readonly clientsSub;
  /** Sinks open on this connection (ended with the connection when the thread dies). */
  readonly sinks = new Set<number>();

  constructor(
    options: ConnectVoiceOptions,
    modes: EncryptionMode[],
    private readonly logger: ConnectVoiceOptions['logger'],
  ) {
    this.guildId = options.serverId;
    // Only the data: callers (the join functions) pass more, e.g. adapters, that cannot cross.
    const { endpoint, serverId, userId, sessionId, token, channelId, dave, reconnect, gatewayGraceMs, tls } = options;
    this.options = { endpoint, serverId, userId, sessionId, token, channelId, dave, reconnect, gatewayGraceMs, tls, modes, log: !!logger };
    this.stateSubject = new BehaviorSubject<VoiceConnectionState>({ status: 'connecting', endpoint: options.endpoint, attempt: 0 });
    this.state$ = this.stateSubject.pipe(
      distinctUntilChanged((a, b) => a === b || (a.status === b.status && JSON.stringify(a) === JSON.stringify(b))),
      shareReplay({ bufferSize: 1, refCount: false }),
    );
    this.speaking$ = speakingEvents(this.messages$);
    this.clients$ = clientSet(this.messages$);
    this.clientsSub = this.clients$.subscribe();
    this.speakers$ = defer(() => {
      this.receiveOn();
      const current = [...this.speakers.values()].map((s) => s.speaker);
      return concat(from(current), this.speakerSubject);
    }).pipe(finalize(() => this.receiveOff()));
    // A second sender on the main thread (packetize/encrypt) must never reuse the driver's nonces.
    sendLaneOf(this).rtp.nonce = (sendLaneOf(this).rtp.nonce | 0x80000000) >>> 0;
    this.id = nextDriverId();
    this.thread = pickDriverThread();
    this.start();
  }

  private start(): void {
    this.thread.addConnection(this.id, this);
    this.thread.post({ t: 'connect', id: this.id, options: this.options });
    if (this.receivers > 0 || this.receiveOffTimer) this.thread.post({ t: 'receive', id: this.id, on: true });
    if (this.speakingFlags !== null) this.thread.post({ t: 'set-speaking', id: this.id, flags: this.speakingFlags });
  }

  get channelId(): string {
    return this.options.channelId;
  }

  get state(): VoiceConnectionState {
    return this.stateSubject.value;
  }

  get transport(): VoiceTransport | null {
    return this.stateSubject.value.status === 'ready' ? this.transportView : null;
  }

  onEvent(e: DriverEvent): void {
    if (this.destroyed) return;
    switch (e.t) {
      case 'state': {
        const state = fromPlainState(e.state);
        this.stateSubject.next(state);
        if (state.status === 'destroyed') this.end();
        return;
      }
      case 'message':
        this.messages.next(e.message);
        return;
      case 'ping':
        this.ping.next(e.rttMs);
        return;
      case 'dave':
        this.dave.next(e.state);
        return;
      case 'log':
        this.logger?.({ level: e.level, message: e.message, data: e.data });
        return;
      case 'transport':
        this.transportView = e.transport ? this.makeTransport(e.transport.ssrc, e.transport.mode, e.transport.key) : null;
        return;
      case 'verify': {
        const v = this.verifications.get(e.req);
        if (!v) return;
        this.verifications.delete(e.req);
        if (e.code !== undefined) v.resolve(e.code);
        else v.reject(new RxVoiceError(e.error?.code ?? 'NOT_CONNECTED', e.error?.message ?? 'verification failed'));
        return;
      }
      case 'speaker': {
        if (this.speakers.has(e.ssrc)) return;
        const packets = new Subject<ReceivedPacket>();
        const packets$ = defer(() => {
          this.receiveOn();
          return packets;
        }).pipe(finalize(() => this.receiveOff()));
        const speaker: Speaker = { userId: e.userId, ssrc: e.ssrc, packets$ };
        this.speakers.set(e.ssrc, { speaker, packets });
        this.speakerSubject.next(speaker);
        return;
      }
      case 'speaker-end': {
        const s = this.speakers.get(e.ssrc);
        if (!s) return;
        this.speakers.delete(e.ssrc);
        s.packets.complete();
        return;
      }
      case 'packets': {
        const payloads = unpackBytes(e.data, e.lengths);
        const offset = this.thread.clockOffsetMs;
        for (let i = 0; i < payloads.length; i++) {
          this.speakers.get(e.ssrc[i])?.packets.next({
            sequence: e.sequence[i],
            timestamp: e.timestamp[i],
            ssrc: e.ssrc[i],
            payload: payloads[i],
            receivedAt: e.receivedAt[i] + offset,
          });
        }
        return;
      }
      case 'stats':
        this.stats = e.stats;
        return;
      default:
        return;
    }
  }

  onCrash(error: Error): void {
    if (this.destroyed) return;
    this.transportView = null;
    this.endSpeakers();
    for (const v of this.verifications.values()) v.reject(new RxVoiceError('NOT_CONNECTED', 'the driver thread died'));
    this.verifications.clear();
    this.stateSubject.next({
      status: 'disconnected',
      endpoint: this.options.endpoint,
      error: new VoiceConnectionError('DRIVER_CRASHED', `the driver thread running this connection died: ${error.message}`, { cause: error }),
    });
  }

  private makeTransport(ssrc: number, mode: EncryptionMode, key: Uint8Array): VoiceTransport {
    const thread = this.thread;
    const id = this.id;
    let pending: Uint8Array[] = [];
    const flush = (): void => {
      const { data, lengths } = packBytes(pending);
      pending = [];
      thread.post({ t: 'udp-send', id, data, lengths }, data);
    };
    const udp: VoiceUdpSocket = {
      messages$: EMPTY,
      discover: () => throwError(() => new RxVoiceError('NOT_SUPPORTED', 'IP discovery runs on the driver thread')),
      send: (datagram) => {
        if (pending.length === 0) queueMicrotask(flush);
        pending.push(datagram);
        return false; // held until the batch is copied: the caller must not reuse it
      },
      keepAlive: () => undefined,
      close: () => undefined,
    };
    return {
      ssrc,
      mode,
      cipher: createTransportCipher(mode, key),
      udp,
      e2ee: (opus) => {
        const s = this.dave.value.status;
        if (s === 'disabled' || s === 'passthrough') return opus;
        throw new RxVoiceError(
          'NOT_SUPPORTED',
          'DAVE encryption of a connection on a driver thread is not available on the main thread: play with voiceSink, or configureVoiceDriver({ threads: 0 })',
        );
      },
      toJSON: () => ({ ssrc, mode }),
    };
  }

  /**
   * Received packets cross from the driver thread only while someone subscribes to
   * `speakers$` or a speaker's `packets$` (and 2 s more: `take(1)` on `speakers$` and then
   * `packets$` is the usual pattern).
   */
  private receiveOn(): void {
    if (this.receivers++ === 0 && !this.destroyed) {
      if (this.receiveOffTimer) {
        clearTimeout(this.receiveOffTimer);
        this.receiveOffTimer = null;
      } else {
        this.thread.post({ t: 'receive', id: this.id, on: true });
      }
    }
  }

  private receiveOff(): void {
    if (--this.receivers > 0 || this.destroyed || this.receiveOffTimer) return;
    this.receiveOffTimer = setTimeout(() => {
      this.receiveOffTimer = null;
      if (this.receivers > 0 || this.destroyed) return;
      this.thread.post({ t: 'receive', id: this.id, on: false });
      this.endSpeakers(); // nobody listens; the driver announces the current speakers again when someone does
    }, 2000);
    this.receiveOffTimer.unref();
  }
  private receiveOffTimer: NodeJS.Timeout | null = null;

  private endSpeakers(): void {
    for (const s of this.speakers.values()) s.packets.complete();
    this.speakers.clear();
  }

  /** After `destroyed`: complete everything, free the thread. */
  private end(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.thread.removeConnection(this.id);
    this.endSpeakers();
    this.speakerSubject.complete();
    this.messages.complete();
    this.ping.complete();
    this.dave.complete();
    this.clientsSub.unsubscribe();
    for (const v of this.verifications.values()) v.reject(new RxVoiceError('NOT_CONNECTED', 'the connection is destroyed'));
    this.verifications.clear();
    this.stateSubject.complete();
  }

  receiveStats(): ReceiveStats {
    return { ...this.stats };
  }

  verificationCode(userId: string): Promise<string> {
    if (this.destroyed) return Promise.reject(new RxVoiceError('NOT_CONNECTED', 'the connection is destroyed'));
    const req = this.nextReq++;
    return new Promise<string>((resolve, reject) => {
      this.verifications.set(req, { resolve, reject });
      this.thread.post({ t: 'verify', id: this.id, req, userId });
    });
  }

  ready(timeoutMs = 30_000): ReturnType<VoiceConnection['ready']> {
    return waitForReady(this.state$, timeoutMs);
  }

  setSpeaking(flags: number | boolean): void {
    this.speakingFlags = typeof flags === 'boolean' ? (flags ? 1 : 0) : flags;
    if (!this.destroyed) this.thread.post({ t: 'set-speaking', id: this.id, flags: this.speakingFlags });
  }

  updateServer(update: { endpoint: string | null; token: string }): void {
    if (update.endpoint) this.options = { ...this.options, endpoint: update.endpoint, token: update.token };
    else this.options = { ...this.options, token: update.token };
    if (this.destroyed) return;
    this.thread.post({ t: 'update-server', id: this.id, endpoint: update.endpoint, token: update.token });
    this.predictFreshStart(update.endpoint ?? '');
  }

  updateSession(update: { sessionId: string; channelId: string }): void {
    const fresh = update.sessionId !== this.options.sessionId;
    this.options = { ...this.options, sessionId: update.sessionId, channelId: update.channelId };
    if (this.destroyed) return;
    this.thread.post({ t: 'update-session', id: this.id, sessionId: update.sessionId, channelId: update.channelId });
    if (fresh) this.predictFreshStart(this.options.endpoint);
  }

  rejoin(): void {
    if (this.destroyed) return;
    if (!this.thread.alive) {
      // The thread died: start over on another one with what we know now.
      this.id = nextDriverId();
      this.thread = pickDriverThread();
      this.stateSubject.next({ status: 'connecting', endpoint: this.options.endpoint, attempt: 0 });
      this.start();
      return;
    }
    this.thread.post({ t: 'rejoin', id: this.id });
    if (this.stateSubject.value.status === 'disconnected') this.predictFreshStart(this.options.endpoint);
  }

  /**
   * The driver's reducer answers this command with a fresh start (`connecting`): show it at
   * once, as the in-process connection does synchronously (a `ready()` right after the
   * command must not see the old `disconnected`). The driver's own state follows.
   */
  private predictFreshStart(endpoint: string): void {
    this.transportView = null;
    this.stateSubject.next({ status: 'connecting', endpoint, attempt: 0 });
  }

  destroy(): void {
    if (this.destroyed) return;
    this.thread.post({ t: 'destroy', id: this.id });
    this.stateSubject.next({ status: 'destroyed', reason: 'destroy-called' });
    this.end();
  }
}

/** `connectVoice` on a driver thread (see `configureVoiceDriver`). */
export function connectOnDriver(options: ConnectVoiceOptions, modes: EncryptionMode[]): VoiceConnection {
  const conn = new DriverConnection(options, modes, options.logger);
  setRemoteTarget(conn, () => conn);
  return conn;
}
