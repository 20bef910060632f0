import { randomInt } from 'node:crypto';
import { WebSocket } from 'ws';
import type { OutgoingMessage, SessionInfo } from '../types';
import type { MessageSink, NodeContext } from './context';
import { NodePlayer } from './player';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A Lavalink session id: 16 characters of a–z0–9 (what Lavalink generates; Shoukaku checks it is there). */
export function newSessionId(): string {
  let id = '';
  for (let i = 0; i < 16; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  return id;
}

/** Most messages kept for a resumable session while its client is away. */
const MAX_QUEUED = 10_000;

/**
 * One client's session (docs/api/websocket.md, docs/api/index.md "Resuming"): its WebSocket,
 * its players by guild, and resuming. Without resuming, the session and all its players end
 * when the socket closes; with it, players keep playing and events are queued for up to
 * `timeout` seconds, then sent on a resume.
 */
export class Session implements MessageSink {
  readonly players = new Map<string, NodePlayer>();
  resuming = false;
  /** Resume timeout, s. */
  timeoutS: number;
  private socket: WebSocket | null = null;
  private readonly queue: string[] = [];
  private expiry: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly clientName: string,
    private readonly ctx: NodeContext,
    private readonly onEnd: (session: Session) => void,
  ) {
    this.timeoutS = ctx.defaultResumeTimeoutS;
  }

  /** Whether a client's socket is attached. */
  get online(): boolean {
    return this.socket !== null;
  }

  /** Sends a message on the socket, or queues it while a resumable session is away. */
  send(message: OutgoingMessage): void {
    const text = JSON.stringify(message);
    if (message.op !== 'stats') this.ctx.log({ level: 'debug', message: `→ ${this.id} ${message.op === 'event' ? message.type : message.op}`, data: message.op === 'event' && message.type === 'TrackEndEvent' ? { reason: message.reason } : message.op === 'event' && message.type === 'TrackExceptionEvent' ? { exception: message.exception.cause } : undefined });
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(text);
    } else if (this.resuming && !this.ended) {
      if (this.queue.length >= MAX_QUEUED) this.queue.shift();
      this.queue.push(text);
    }
  }

  /**
   * Attaches a client's socket (a new session, or a resume: `ready{resumed:true}`, queued
   * messages, a playerUpdate per player). A socket still attached is closed first (a resume
   * from a client whose old connection the node had not yet seen die); its close no longer
   * concerns the session.
   */
  attach(socket: WebSocket, resumed: boolean): void {
    if (this.expiry) clearTimeout(this.expiry);
    this.expiry = null;
    const previous = this.socket;
    this.socket = socket;
    if (previous && previous !== socket) {
      this.ctx.log({ level: 'info', message: `session ${this.id}: a resume replaces its previous socket` });
      previous.terminate();
    }
    this.send({ op: 'ready', resumed, sessionId: this.id });
    if (resumed) {
      for (const text of this.queue.splice(0)) socket.send(text);
      for (const p of this.players.values()) p.sendPlayerUpdate();
    }
    socket.on('close', () => this.detach(socket));
  }

  /** PATCH /v4/sessions/{sessionId}. */
  update(resuming: boolean | undefined, timeoutS: number | undefined): SessionInfo {
    if (resuming !== undefined) this.resuming = resuming;
    if (timeoutS !== undefined) this.timeoutS = timeoutS;
    return { resuming: this.resuming, timeout: this.timeoutS };
  }

  /** Gets or creates the player of `guildId`. */
  player(guildId: string, create: boolean): NodePlayer | undefined {
    let p = this.players.get(guildId);
    if (!p && create) {
      p = new NodePlayer(guildId, this.userId, this, this.ctx);
      this.players.set(guildId, p);
    }
    return p;
  }

  /** DELETE …/players/{guildId}: false if there was none. */
  destroyPlayer(guildId: string): boolean {
    const p = this.players.get(guildId);
    if (!p) return false;
    this.players.delete(guildId);
    p.destroy(true);
    return true;
  }

  /** Ends the session: players destroyed, socket closed. */
  end(code = 1000, reason = 'session ended'): void {
    if (this.ended) return;
    this.ended = true;
    if (this.expiry) clearTimeout(this.expiry);
    for (const p of this.players.values()) p.destroy(false);
    this.players.clear();
    const s = this.socket;
    this.socket = null;
    if (s && s.readyState === WebSocket.OPEN) s.close(code, reason);
    this.onEnd(this);
  }

  private detach(socket: WebSocket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.ended) return;
    if (!this.resuming) {
      this.ctx.log({ level: 'info', message: `session ${this.id} closed; its players are destroyed` });
      this.end();
      return;
    }
    this.ctx.log({ level: 'info', message: `session ${this.id} paused; resumable for ${this.timeoutS} s` });
    this.expiry = setTimeout(() => {
      this.ctx.log({ level: 'info', message: `session ${this.id} was not resumed within ${this.timeoutS} s` });
      this.end();
    }, this.timeoutS * 1000);
    this.expiry.unref();
  }
}
