import { performance } from 'node:perf_hooks';
import { concat, defer, EMPTY, from, Observable, Subject, switchMap, type Subscription } from 'rxjs';
import { ProtocolError } from '../errors';
import { VoiceOpcode, type VoiceMessage } from '../protocol/opcodes';
import { OPUS_PAYLOAD_TYPE, RTP_HEADER_SIZE } from '../protocol/rtp';
import type { VoiceTransport } from './connectVoice';

/** A received, decrypted voice packet (CSRCs, header extension body and RTP padding stripped). */
export interface ReceivedPacket {
  /** RTP sequence number (u16). */
  readonly sequence: number;
  /** RTP timestamp, 48 kHz samples (u32). */
  readonly timestamp: number;
  readonly ssrc: number;
  /** The Opus packet (or DAVE frame before DAVE decryption). */
  readonly payload: Buffer;
  /** Arrival time, `performance.now()` ms. */
  readonly receivedAt: number;
}

/** A user sending audio, from `conn.speakers$`. */
export interface Speaker {
  readonly userId: string;
  readonly ssrc: number;
  /**
   * Their packets as they arrive (hot: subscribe at once; not buffered). Completes when
   * the user leaves the channel (op 13) or the connection ends.
   */
  readonly packets$: Observable<ReceivedPacket>;
}

/** Counters of the receive path (datagrams dropped are counted here, never thrown). */
export interface ReceiveStats {
  /** Packets delivered to speakers. */
  packets: number;
  /** Shorter than an RTP header, wrong version, or truncated (includes keep-alive echoes ≤ 8 bytes: `keepAlives`). */
  malformed: number;
  keepAlives: number;
  /** RTCP or payload types other than Opus (120). */
  ignored: number;
  /** From SSRCs no op 5 SPEAKING mapped to a user yet. */
  unknownSsrc: number;
  /** Failed transport authentication / decryption. */
  decryptFailures: number;
  /** Speakers currently tracked (SSRC → user entries). */
  trackedSsrcs: number;
}

interface Track {
  userId: string;
  subject: Subject<ReceivedPacket> | null;
  speaker: Speaker | null;
}

/**
 * The receive side of a connection (internal; exposed as `conn.speakers$`): maps SSRCs to
 * users from op 5 SPEAKING, forgets them on op 13 CLIENT_DISCONNECT, opens each datagram
 * with the transport cipher and hands it to that user's `packets$`. Facts: Discord docs,
 * "Voice Connections" → "Receiving Voice" is undocumented; behaviour follows what Discord
 * clients send (op 5 carries `user_id` and `ssrc`).
 */
export class VoiceReceiver {
  readonly speakers$: Observable<Speaker>;
  private readonly speakers = new Subject<Speaker>();
  private readonly tracks = new Map<number, Track>();
  private readonly counters = { packets: 0, malformed: 0, keepAlives: 0, ignored: 0, unknownSsrc: 0, decryptFailures: 0 };
  private readonly subs: Subscription[] = [];
  private transport: VoiceTransport | null = null;
  /** Extra payload transform after transport decryption (DAVE decrypt plugs in here); null drops the packet. */
  decryptPayload: ((payload: Buffer, userId: string) => Buffer | null) | null = null;

  constructor(messages$: Observable<VoiceMessage>, transport$: Observable<VoiceTransport | null>) {
    // Speakers already sending when someone subscribes come first, then new ones.
    this.speakers$ = defer(() => {
      const current: Speaker[] = [];
      for (const t of this.tracks.values()) if (t.speaker) current.push(t.speaker);
      return concat(from(current), this.speakers);
    });
    this.subs.push(messages$.subscribe((m) => this.onMessage(m)));
    this.subs.push(
      transport$
        .pipe(
          switchMap((t) => {
            this.transport = t;
            return t ? t.udp.messages$ : EMPTY;
          }),
        )
        .subscribe((datagram) => this.onDatagram(datagram)),
    );
  }

  stats(): ReceiveStats {
    return { ...this.counters, trackedSsrcs: this.tracks.size };
  }

  private onMessage(m: VoiceMessage): void {
    const d = m.d as Record<string, unknown> | null;
    if (m.op === VoiceOpcode.Speaking && typeof d?.user_id === 'string' && typeof d.ssrc === 'number') {
      const existing = this.tracks.get(d.ssrc);
      if (existing && existing.userId !== d.user_id) this.endTrack(d.ssrc);
      if (!this.tracks.has(d.ssrc)) this.tracks.set(d.ssrc, { userId: d.user_id, subject: null, speaker: null });
    } else if (m.op === VoiceOpcode.ClientDisconnect && typeof d?.user_id === 'string') {
      for (const [ssrc, track] of this.tracks) if (track.userId === d.user_id) this.endTrack(ssrc);
    }
  }

  private endTrack(ssrc: number): void {
    const track = this.tracks.get(ssrc);
    if (!track) return;
    this.tracks.delete(ssrc);
    track.subject?.complete();
  }

  private onDatagram(msg: Buffer): void {
    if (msg.length <= 8) {
      this.counters.keepAlives++;
      return;
    }
    if (msg.length < RTP_HEADER_SIZE || msg[0] >> 6 !== 2) {
      this.counters.malformed++;
      return;
    }
    if ((msg[1] & 0x7f) !== OPUS_PAYLOAD_TYPE) {
      this.counters.ignored++; // RTCP (PT 200–204 with the marker bit) and anything else
      return;
    }
    const ssrc = msg.readUInt32BE(8);
    const track = this.tracks.get(ssrc);
    const t = this.transport;
    if (!track || !t) {
      this.counters.unknownSsrc++;
      return;
    }
    let opened;
    try {
      opened = t.cipher.open(msg);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      if (err.code === 'CRYPTO_AUTH_FAILED') this.counters.decryptFailures++;
      else this.counters.malformed++;
      return;
    }
    let payload: Buffer | null = opened.payload;
    if (this.decryptPayload) {
      payload = this.decryptPayload(payload, track.userId);
      if (!payload) return;
    }
    if (!track.subject) {
      track.subject = new Subject<ReceivedPacket>();
      track.speaker = { userId: track.userId, ssrc, packets$: track.subject.asObservable() };
      this.speakers.next(track.speaker);
    }
    this.counters.packets++;
    track.subject.next({
      sequence: opened.header.sequence,
      timestamp: opened.header.timestamp,
      ssrc,
      payload,
      receivedAt: performance.now(),
    });
  }

  /** Ends every speaker stream and forgets the SSRCs (the connection moved to another channel); keeps listening. */
  endSpeakers(): void {
    for (const ssrc of [...this.tracks.keys()]) this.endTrack(ssrc);
  }

  /** Ends every speaker stream and stops listening. */
  dispose(): void {
    this.endSpeakers();
    this.subs.forEach((s) => s.unsubscribe());
    this.speakers.complete();
  }
}
