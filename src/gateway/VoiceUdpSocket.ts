import * as dgram from 'node:dgram';
import { Observable, Subject } from 'rxjs';
import { encodeIpDiscoveryRequest, IP_DISCOVERY_RESPONSE, isIpDiscovery, parseIpDiscovery } from '../protocol/ipDiscovery';
import { VoiceConnectionError } from './VoiceConnectionError';
import type { UdpAddress } from './VoiceConnectionState';

/** Options of UDP IP discovery. */
export interface IpDiscoveryOptions {
  /** Wait this long for an answer before resending, ms. Default 1000. */
  retryMs?: number;
  /** Requests sent before giving up. Default 5. */
  attempts?: number;
}

/** The voice UDP socket of one connection: IP discovery, keep-alives, media in and out. */
export interface VoiceUdpSocket {
  /** Datagrams from the voice server (media), as they arrive. Completes when the socket closes. */
  readonly messages$: Observable<Buffer>;
  /**
   * IP discovery (Discord docs, "Voice Connections" → "IP Discovery"): sends the 74-byte
   * request for `ssrc` to `server` until a response arrives. Emits the external address
   * once and completes; errors with `VoiceConnectionError` `IP_DISCOVERY_FAILED` after
   * `attempts` unanswered requests or when the socket closes. Sets the media destination.
   */
  discover(ssrc: number, server: UdpAddress, options?: IpDiscoveryOptions): Observable<UdpAddress>;
  /**
   * Sends a datagram to the voice server (no-op before `discover` or after close).
   * Returns true when the socket no longer references `datagram` (handed to the kernel,
   * which copies it, or dropped), so its memory may be reused at once; false when it may
   * still be queued (sent later from that memory: do not overwrite it).
   */
  send(datagram: Uint8Array): boolean;
  /** Sends the 8-byte keep-alive (u32 LE counter + 4 zero bytes). */
  keepAlive(): void;
  close(): void;
}

/** Opens a UDP socket for voice (IPv4, ephemeral port). Socket errors never throw. */
export function openVoiceUdpSocket(): VoiceUdpSocket {
  const socket = dgram.createSocket('udp4');
  const messages = new Subject<Buffer>();
  const discovery = new Subject<Buffer>();
  let closed = false;
  let remote: UdpAddress | null = null;
  let keepAliveCounter = 0;
  const keepAliveBuf = Buffer.alloc(8);
  const closed$ = new Subject<Error>();

  socket.on('message', (msg) => {
    if (isIpDiscovery(msg)) discovery.next(msg);
    else messages.next(msg);
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    // A connected UDP socket reports ICMP port unreachable from earlier sends as ECONNREFUSED
    // (an unconnected one never does): not fatal, the server may answer again.
    if (err.code === 'ECONNREFUSED') return;
    closed$.next(err);
    close();
  });
  socket.on('close', () => {
    closed = true;
    closed$.next(new Error('UDP socket closed'));
    messages.complete();
  });
  socket.bind(0);

  function close(): void {
    if (closed) return;
    closed = true;
    try {
      socket.close();
    } catch {
      // already closed
    }
    messages.complete();
  }

  // After IP discovery the socket is connected to the voice server: a send with an address
  // goes through dns.lookup (a process.nextTick and a closure per datagram, and the send
  // happens later, from the caller's memory) and a route lookup in the kernel; a send on a
  // connected socket is synchronous and the kernel keeps the route.
  let peer: UdpAddress | null = null;
  let connecting = false;
  const connectTo = (to: UdpAddress): void => {
    if (closed || connecting || peer !== null) return;
    connecting = true;
    try {
      socket.connect(to.port, to.address, (err?: Error) => {
        connecting = false;
        if (err || closed) return; // stays unconnected: sends carry the address
        if (remote && remote.port === to.port && remote.address === to.address) peer = to;
        else socket.disconnect(); // the destination changed meanwhile
      });
    } catch {
      connecting = false;
    }
  };

  const sendTo = (datagram: Uint8Array, to: UdpAddress): boolean => {
    if (closed) return true;
    // No callback: without one, dgram drops a failed send silently (as the no-op callback
    // did), and a callback costs a process.nextTick per packet.
    if (peer !== null) {
      if (to.port === peer.port && to.address === peer.address) {
        socket.send(datagram);
        // Sent synchronously unless libuv queued it (socket buffer full).
        return socket.getSendQueueCount() === 0;
      }
      socket.disconnect(); // another destination (discovery towards a new server)
      peer = null;
    }
    socket.send(datagram, to.port, to.address); // sent after the address lookup (next tick)
    return false;
  };

  return {
    messages$: messages.asObservable(),
    discover(ssrc, server, options = {}) {
      const retryMs = options.retryMs ?? 1000;
      const attempts = options.attempts ?? 5;
      return new Observable<UdpAddress>((subscriber) => {
        const request = encodeIpDiscoveryRequest(ssrc);
        let sent = 0;
        let timer: NodeJS.Timeout | null = null;
        const fail = (why: string, cause?: unknown): void =>
          subscriber.error(new VoiceConnectionError('IP_DISCOVERY_FAILED', `IP discovery failed: ${why}`, { cause }));
        const tick = (): void => {
          if (sent >= attempts) return fail(`no answer from ${server.address}:${server.port} after ${attempts} requests`);
          sent++;
          sendTo(request, server);
          timer = setTimeout(tick, retryMs);
        };
        const answers = discovery.subscribe((msg) => {
          try {
            const res = parseIpDiscovery(msg);
            if (res.type !== IP_DISCOVERY_RESPONSE || res.ssrc !== ssrc) return;
            remote = server;
            connectTo(server);
            subscriber.next({ address: res.address, port: res.port });
            subscriber.complete();
          } catch {
            // malformed answer: keep waiting
          }
        });
        const closes = closed$.subscribe((err) => fail('the UDP socket closed', err));
        if (closed) fail('the UDP socket is closed');
        else tick();
        return () => {
          if (timer) clearTimeout(timer);
          answers.unsubscribe();
          closes.unsubscribe();
        };
      });
    },
    send(datagram) {
      return remote ? sendTo(datagram, remote) : true;
    },
    keepAlive() {
      if (!remote) return;
      keepAliveBuf.writeUInt32LE(keepAliveCounter, 0);
      keepAliveCounter = (keepAliveCounter + 1) >>> 0;
      sendTo(keepAliveBuf, remote);
    },
    close,
  };
}
