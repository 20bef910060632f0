import {
  BehaviorSubject,
  EMPTY,
  Observable,
  Subject,
  Subscription,
  catchError,
  distinctUntilChanged,
  filter,
  interval,
  map,
  of,
  switchMap,
  timer,
  type SchedulerLike,
} from 'rxjs';
import type { VoiceMessage } from '../protocol/opcodes';
import type { GatewaySocket, GatewaySocketEvent } from './GatewaySocket';
import {
  reduceConnection,
  wantsSocket,
  type ConnectionEvent,
  type ConnectionModel,
} from './connectionReducer';
import type { VoiceUdpSocket } from './VoiceUdpSocket';
import type { UdpAddress } from './VoiceConnectionState';

/** Keep-alive period on the voice UDP socket, ms. */
export const UDP_KEEPALIVE_MS = 5000;

/** The I/O the machine drives: real sockets in `connectVoice`, fakes in marble tests. */
export interface ConnectionDrivers {
  openSocket(url: string): GatewaySocket;
  openUdp(): VoiceUdpSocket;
  /** Used for backoff jitter; default `Math.random`. */
  random?: () => number;
}

/** A running connection machine. */
export interface ConnectionMachine {
  /** Every model, starting with the current one. */
  readonly model$: Observable<ConnectionModel>;
  readonly model: ConnectionModel;
  /** Every gateway frame received (JSON messages and binary frames), on the current socket. */
  readonly frames$: Observable<GatewaySocketEvent>;
  /** The current UDP socket, or null. */
  readonly udp: VoiceUdpSocket | null;
  /** Feeds an event (queued: events dispatched while one is being reduced run after it). */
  dispatch(event: ConnectionEvent): void;
  /** Sends on the current socket (no-op without one). */
  send(data: VoiceMessage | Buffer): void;
  /** Tears down every effect (sockets closed). */
  stop(): void;
}

/**
 * Runs {@link reduceConnection} with its effects. Effects are functions of the model:
 * - the WebSocket lives while `wantsSocket(model)`, keyed by `socketId` (a new id closes
 *   the old socket with `model.closeCode`);
 * - the UDP socket lives while `udpId` ≠ 0, keyed by it (kept across resume);
 * - heartbeats tick every `heartbeatIntervalMs` on `scheduler` while the socket is wanted;
 * - the retry timer runs while `reconnecting` (backoff `delayMs` with equal jitter:
 *   between ½ and 1 × `delayMs`);
 * - IP discovery runs while `discovering`; keep-alives every 5 s while `ready`;
 * - `outbox` messages are sent on the current socket after each transition.
 * All timers use `scheduler`, so `TestScheduler` marble tests drive it without sockets.
 */
export function startConnectionMachine(
  initial: ConnectionModel,
  drivers: ConnectionDrivers,
  scheduler: SchedulerLike,
): ConnectionMachine {
  const model$ = new BehaviorSubject(initial);
  const frames = new Subject<GatewaySocketEvent>();
  const random = drivers.random ?? Math.random;
  const subs = new Subscription();
  let socket: GatewaySocket | null = null;
  let udp: VoiceUdpSocket | null = null;
  const queue: ConnectionEvent[] = [];
  let draining = false;

  const dispatch = (event: ConnectionEvent): void => {
    queue.push(event);
    if (draining) return;
    draining = true;
    try {
      while (queue.length > 0) {
        const prev = model$.value;
        const next = reduceConnection(prev, queue.shift()!);
        if (next !== prev) model$.next(next);
      }
    } finally {
      draining = false;
    }
  };
  const now = (): number => scheduler.now();
  const keyed = <K>(select: (m: ConnectionModel) => K, compare?: (a: K, b: K) => boolean): Observable<K> =>
    model$.pipe(map(select), distinctUntilChanged(compare));

  // WebSocket.
  subs.add(
    keyed((m) => (wantsSocket(m) ? m.socketId : 0))
      .pipe(
        switchMap((socketId) => {
          if (socketId === 0) return EMPTY;
          return new Observable<ConnectionEvent>((subscriber) => {
            const s = drivers.openSocket(model$.value.config.url);
            socket = s;
            const inner = s.events$.subscribe((e) => {
              frames.next(e);
              const at = now();
              switch (e.type) {
                case 'open':
                  return subscriber.next({ type: 'socket-open', socketId, at });
                case 'message':
                  return subscriber.next({ type: 'socket-message', socketId, message: e.message, at });
                case 'binary':
                  return subscriber.next({ type: 'socket-binary', socketId, seq: e.seq, op: e.op, at });
                case 'close':
                  return subscriber.next({ type: 'socket-close', socketId, code: e.code, reason: e.reason, at });
                case 'bad-frame':
                  return; // reported on frames$, never fatal
              }
            });
            return () => {
              inner.unsubscribe();
              if (socket === s) socket = null;
              s.close(model$.value.closeCode);
            };
          });
        }),
      )
      .subscribe(dispatch),
  );

  // UDP socket (kept across resumes; a new one per udpId).
  subs.add(
    keyed((m) => m.udpId)
      .pipe(
        switchMap((udpId) => {
          if (udpId === 0) return EMPTY;
          return new Observable<never>(() => {
            const u = drivers.openUdp();
            udp = u;
            return () => {
              if (udp === u) udp = null;
              u.close();
            };
          });
        }),
      )
      .subscribe(),
  );

  // Outbox: what the last transition wants sent.
  subs.add(
    model$.pipe(filter((m) => m.outbox.length > 0)).subscribe((m) => {
      for (const msg of m.outbox) socket?.send(msg);
    }),
  );

  // Heartbeats.
  subs.add(
    keyed(
      (m) => (wantsSocket(m) && m.heartbeatIntervalMs ? { socketId: m.socketId, ms: m.heartbeatIntervalMs } : null),
      (a, b) => a?.socketId === b?.socketId && a?.ms === b?.ms,
    )
      .pipe(
        switchMap((hb) =>
          hb
            ? interval(hb.ms, scheduler).pipe(
                map((): ConnectionEvent => ({ type: 'heartbeat-tick', socketId: hb.socketId, at: now() })),
              )
            : EMPTY,
        ),
      )
      .subscribe(dispatch),
  );

  // Retry after backoff (with jitter); a wait for the main gateway after 4014 lasts exactly its grace.
  subs.add(
    keyed(
      (m) => (m.state.status === 'reconnecting' ? { state: m.state, exact: m.awaitingGateway !== null } : null),
      (a, b) => a?.state === b?.state,
    )
      .pipe(
        switchMap((r) => {
          if (!r || r.state.status !== 'reconnecting') return EMPTY;
          const delay = r.exact ? r.state.delayMs : r.state.delayMs * (0.5 + 0.5 * random());
          return timer(delay, scheduler).pipe(map((): ConnectionEvent => ({ type: 'retry', at: now() })));
        }),
      )
      .subscribe(dispatch),
  );

  // IP discovery.
  subs.add(
    keyed(
      (m) =>
        m.state.status === 'discovering' && m.session && m.udpId !== 0
          ? { udpId: m.udpId, ssrc: m.session.ssrc, server: m.session.server, socketId: m.socketId }
          : null,
      (a, b) => a?.udpId === b?.udpId && a?.ssrc === b?.ssrc && a?.socketId === b?.socketId,
    )
      .pipe(
        switchMap((d) => {
          if (!d || !udp) return EMPTY;
          return udp.discover(d.ssrc, d.server).pipe(
            map((local: UdpAddress): ConnectionEvent => ({ type: 'udp-discovered', udpId: d.udpId, local, at: now() })),
            catchError((error: Error) => of<ConnectionEvent>({ type: 'udp-failed', udpId: d.udpId, error, at: now() })),
          );
        }),
      )
      .subscribe(dispatch),
  );

  // UDP keep-alive while ready.
  subs.add(
    keyed((m) => (m.state.status === 'ready' ? m.udpId : 0))
      .pipe(switchMap((id) => (id ? interval(UDP_KEEPALIVE_MS, scheduler) : EMPTY)))
      .subscribe(() => udp?.keepAlive()),
  );

  return new MachineHandle(model$, frames, () => udp, dispatch, (data) => socket?.send(data), () => {
    subs.unsubscribe();
    frames.complete();
    model$.complete();
  });
}

/**
 * The machine's handle: a class, so that `model` and `udp` are prototype getters (an object
 * literal with getters is a dictionary-mode object in V8, and `machine.model` is read on
 * every tick of every sink through `conn.transport`).
 */
class MachineHandle implements ConnectionMachine {
  readonly model$: Observable<ConnectionModel>;
  readonly frames$: Observable<GatewaySocketEvent>;

  constructor(
    private readonly models: BehaviorSubject<ConnectionModel>,
    frames: Subject<GatewaySocketEvent>,
    private readonly currentUdp: () => VoiceUdpSocket | null,
    readonly dispatch: (event: ConnectionEvent) => void,
    readonly send: (data: VoiceMessage | Buffer) => void,
    readonly stop: () => void,
  ) {
    this.model$ = models.asObservable();
    this.frames$ = frames.asObservable();
  }

  get model(): ConnectionModel {
    return this.models.value;
  }

  get udp(): VoiceUdpSocket | null {
    return this.currentUdp();
  }
}
