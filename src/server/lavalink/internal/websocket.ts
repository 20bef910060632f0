import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { NodeContext } from './context';
import { errorBody, LavalinkHttpError } from './http';
import { checkAuth, parseRequestUrl } from './routes';
import { newSessionId, Session } from './session';

/** What the WebSocket endpoint needs from the node. */
export interface SocketServices {
  readonly ctx: NodeContext;
  readonly sessions: Map<string, Session>;
  /** Sends a `stats` op to one session (at connect). */
  sendStats(session: Session): void;
}

interface Pending {
  resumed: boolean;
}

/**
 * `/v4/websocket` (docs/api/websocket.md "Opening a connection"): checks `Authorization`
 * (401 missing, 403 wrong) and `User-Id` (400 missing or 0), resumes a session named by
 * `Session-Id` if it has resuming enabled and belongs to that user (taking it over from a
 * socket that still looks open), answers with `Session-Resumed` in the handshake,
 * then `ready` and a first `stats`. Incoming messages are ignored (v4 has no client ops);
 * pings are answered by `ws`.
 */
export class LavalinkSocketServer {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly pending = new WeakMap<IncomingMessage, Pending>();

  constructor(private readonly services: SocketServices) {
    this.wss.on('headers', (headers, req) => {
      const p = this.pending.get(req);
      headers.push(`Session-Resumed: ${p?.resumed ? 'true' : 'false'}`, 'Lavalink-Api-Version: 4');
    });
  }

  /** Handles an HTTP upgrade (any path; only `/v4/websocket` is accepted). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const url = parseRequestUrl(req.url);
    const path = url?.pathname ?? '/';
    try {
      if (!url) throw new LavalinkHttpError(400, 'Malformed request URL');
      if (path !== '/v4/websocket') throw new LavalinkHttpError(404, 'Not Found');
      checkAuth(req.headers.authorization, this.services.ctx.password);
      const userId = header(req, 'user-id');
      if (!userId || !/^\d{1,20}$/.test(userId) || /^0+$/.test(userId)) throw new LavalinkHttpError(400, 'The User-Id header is missing or invalid');
      const clientName = header(req, 'client-name') ?? 'unknown';
      const wanted = header(req, 'session-id');
      const old = wanted !== undefined ? this.services.sessions.get(wanted) : undefined;
      // A resume takes the session over even while its old socket still looks open: a client
      // that reconnects with Session-Id has given that socket up (a half-open TCP connection
      // is only noticed by the server much later), so the old socket is closed.
      const resumed = old !== undefined && old.resuming && old.userId === userId;
      // The session is made (or taken over) only once the handshake succeeded: a failed
      // handshake (bad Sec-WebSocket-Key, …) must leave nothing behind.
      this.pending.set(req, { resumed });
      this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        ws.on('error', () => undefined);
        ws.on('message', () => undefined);
        const session = resumed && old && this.services.sessions.get(old.id) === old ? old : this.newSession(userId, clientName);
        const wasResumed = session === old;
        this.services.ctx.log({ level: 'info', message: `${wasResumed ? 'resumed' : 'new'} session ${session.id} for ${clientName} (user ${userId})` });
        session.attach(ws, wasResumed);
        this.services.sendStats(session);
      });
    } catch (err) {
      const status = err instanceof LavalinkHttpError ? err.status : 500;
      const body = JSON.stringify(errorBody(status, err instanceof Error ? err.message : String(err), path));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nLavalink-Api-Version: 4\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  }

  private newSession(userId: string, clientName: string): Session {
    let id = newSessionId();
    while (this.services.sessions.has(id)) id = newSessionId();
    const session = new Session(id, userId, clientName, this.services.ctx, (s) => {
      if (this.services.sessions.get(s.id) === s) this.services.sessions.delete(s.id);
    });
    this.services.sessions.set(id, session);
    return session;
  }

  /** Closes every client socket. */
  close(): void {
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}
