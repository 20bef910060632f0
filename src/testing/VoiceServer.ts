import type { Observable } from 'rxjs';
import type { VoiceMessage } from '../protocol/opcodes';

/** Options of {@link startVoiceServer}. */
export interface VoiceServerOptions {
  /** Address to bind WebSocket and UDP sockets to. Default `127.0.0.1`. */
  host?: string;
  /** Modes offered in READY, in order. Default both `*_rtpsize` modes, AES-GCM first. */
  modes?: string[];
  /** `heartbeat_interval` sent in HELLO, ms. Default 13750 (what Discord sends). */
  heartbeatIntervalMs?: number;
  /**
   * Close a client with 4009 when no heartbeat arrived for this long, ms.
   * Default 2 × `heartbeatIntervalMs` + 1000.
   */
  heartbeatTimeoutMs?: number;
  /** How long a closed session stays resumable, ms. Default 60000. */
  resumeWindowMs?: number;
  /** Close clients that identify without `max_dave_protocol_version` ≥ 1 with 4017. */
  requireDave?: boolean;
  /** Sessions accepted by IDENTIFY (more can be added with `registerSession`). */
  sessions?: VoiceSessionCredentials[];
  /** Accept any token and session id (for demos and `npm run emulator`). Default false. */
  acceptAnySession?: boolean;
  /** Decode received Opus to PCM (s16le 48 kHz stereo) and keep it. Default true. */
  decode?: boolean;
  /** Keep at most this much audio (ms) per stream, PCM and Opus payloads. Default 600000 (10 min). */
  maxKeptAudioMs?: number;
  /**
   * TLS certificate and key for `wss://` (PEM). Default: a fresh self-signed one. Pass
   * another emulator's `tls` so clients trust several emulators with one `ca`.
   */
  tls?: { cert: string; key: string };
  /** Write each received stream to `<wavDir>/<userId>-<ssrc>.wav` on `close()`. */
  wavDir?: string;
}

/** A session the test registers before the client identifies (what Discord's main gateway would give it). */
export interface VoiceSessionCredentials {
  /** Guild (server) id: clients with the same `serverId` share a channel. */
  serverId: string;
  userId: string;
  sessionId: string;
  token: string;
}

/** |inter-arrival − 20 ms| over a stream's packets, ms. */
export interface PacingStats {
  p50: number;
  p99: number;
  max: number;
  /** Number of inter-arrival samples. */
  count: number;
}

/** What the emulator received on one SSRC. All counts are packets unless stated. */
export interface ReceivedStream {
  ssrc: number;
  /** The user that owns the SSRC (from READY). */
  userId: string;
  /** Encryption mode the packets were opened with. */
  mode: string;
  /** Packets that decrypted. */
  frames: number;
  /** Of `frames`, Opus silence frames `F8 FF FE`. */
  silenceFrames: number;
  /** Packets that failed authentication or did not parse as RTP. */
  decryptFailures: number;
  /** Packets whose Opus payload failed to decode. */
  decodeFailures: number;
  /** Sequence numbers never received between the first and the highest. */
  lost: number;
  duplicates: number;
  /** Packets that arrived after a higher sequence number. */
  reordered: number;
  /** Consecutive packets whose timestamp step is not 960 × sequence step. */
  timestampSteps: number;
  /** Deviation of inter-arrival times from 20 ms (consecutive, in-order packets). */
  pacing: PacingStats;
  /** RFC 3550 §6.4.1 interarrival jitter, ms. */
  jitterMs: number;
  firstSequence: number;
  lastSequence: number;
  /** Arrival of the first and last packet, `performance.now()` ms. */
  firstArrival: number;
  lastArrival: number;
  /** Decoded audio, s16le 48 kHz stereo, in arrival order (empty if `decode: false`). */
  pcm: Buffer;
  /** Decrypted Opus payloads in arrival order. */
  payloads: Buffer[];
  /** Audio duration from frame count, ms (frames × 20). */
  durationMs: number;
}

/** A client session as the emulator sees it. */
export interface VoiceServerClient {
  userId: string;
  serverId: string;
  sessionId: string;
  ssrc: number;
  /** Open WebSocket right now. */
  connected: boolean;
  /** Mode chosen by SELECT_PROTOCOL (null before). */
  mode: string | null;
  /** UDP address from SELECT_PROTOCOL (null before). */
  udp: { address: string; port: number } | null;
  /** `max_dave_protocol_version` from IDENTIFY. */
  daveProtocolVersion: number;
  /** Last `seq_ack` the client sent in a heartbeat or resume (-1 before any). */
  lastSeqAck: number;
  /** Last speaking flags from op 5 (0 before). */
  speaking: number;
  identifies: number;
  resumes: number;
  heartbeats: number;
}

/** One line of the emulator's log, emitted on `events$`. */
export type VoiceServerEvent =
  | { type: 'socket-open'; tls: boolean; remote: string }
  | { type: 'identify'; userId: string; serverId: string; sessionId: string; daveVersion: number }
  | { type: 'resume'; userId: string; sessionId: string; seqAck: number; replayed: number }
  | { type: 'select-protocol'; userId: string; mode: string; address: string; port: number }
  | { type: 'heartbeat'; userId: string | null; seqAck: number | null }
  | { type: 'speaking'; userId: string; flags: number }
  | { type: 'client-message'; userId: string | null; op: number }
  | { type: 'close'; userId: string | null; code: number; reason: string; byServer: boolean }
  | { type: 'session-end'; userId: string; sessionId: string }
  | { type: 'udp-discovery'; ssrc: number; address: string; port: number }
  | { type: 'udp-stream-start'; userId: string; ssrc: number }
  | { type: 'udp-bad-packet'; reason: string; bytes: number };

/** UDP faults, applied to a fraction of datagrams in one direction. */
export interface UdpFaults {
  /** 'in' = client → emulator, 'out' = emulator → client (speakAs). Default 'both'. */
  direction?: 'in' | 'out' | 'both';
  /** Fraction 0–1 of packets dropped. */
  drop?: number;
  /** Fraction 0–1 of packets held back and delivered after the next one. */
  reorder?: number;
  /** Fraction 0–1 of packets delayed by `delayMs`. */
  delay?: number;
  delayMs?: number;
  /** Seed for the fault RNG (deterministic runs). */
  seed?: number;
}

/** UDP counters of the emulator. */
export interface UdpStats {
  badPackets: number;
  unknownSsrc: number;
  keepAlives: number;
  ipDiscoveries: number;
  faults: { dropped: number; reordered: number; delayed: number };
}

/** Audio a simulated user sends with `speakAs`. */
export type SpeakSource =
  /** PCM s16le 48 kHz stereo, encoded by the emulator into 20 ms Opus frames. */
  | { pcm: Buffer }
  /** Opus packets, one per 20 ms. */
  | { opus: Iterable<Uint8Array> | AsyncIterable<Uint8Array> }
  /** A generated sine tone. */
  | { tone: { frequency: number; durationMs: number; amplitude?: number } };

/** Options of `speakAs`. */
export interface SpeakAsOptions {
  userId: string;
  ssrc: number;
  source: SpeakSource;
  /** Only to clients of this guild (default: every connected client with UDP set up). */
  serverId?: string;
  /** Send op 13 CLIENT_DISCONNECT for the user when done. Default false. */
  leaveAfter?: boolean;
  /** Trailing Opus silence frames. Default 5. */
  silenceFrames?: number;
  /**
   * Encoder settings for `pcm` / `tone` sources: in-band FEC, and the loss (%) the encoder
   * expects (libopus then leans less on inter-frame prediction, so decoders recover faster).
   */
  opus?: { fec?: boolean; packetLossPercent?: number };
}

/** A running emulator, from {@link startVoiceServer}. */
export interface VoiceServer {
  /** TLS endpoint without scheme, as Discord's VOICE_SERVER_UPDATE gives it (`127.0.0.1:PORT`). */
  readonly endpoint: string;
  /** Plain WebSocket URL, `ws://127.0.0.1:PORT/?v=8`. */
  readonly wsUrl: string;
  /** TLS WebSocket URL, `wss://127.0.0.1:PORT/?v=8` (self-signed; see `certificate`). */
  readonly wssUrl: string;
  /** UDP media port. */
  readonly udpPort: number;
  /** PEM of the self-signed certificate, for a client's `ca` option. */
  readonly certificate: string;
  /** Certificate and key in use (to share with another emulator). */
  readonly tls: { cert: string; key: string };
  /** Every session event, as it happens. */
  readonly events$: Observable<VoiceServerEvent>;

  /** Accept IDENTIFY for these credentials. */
  registerSession(credentials: VoiceSessionCredentials): void;
  /** Client sessions (connected or resumable). */
  clients(): VoiceServerClient[];
  /** What was received, one entry per SSRC. */
  received(): ReceivedStream[];
  /** The stream of one user (the last SSRC it was given), or undefined. */
  receivedFrom(userId: string): ReceivedStream | undefined;
  /** Forget received streams. */
  resetReceived(): void;
  /** UDP counters: datagrams dropped as malformed (`badPackets`, of which `unknownSsrc`), keep-alives, IP discoveries, injected faults. */
  udpStats(): UdpStats;

  /**
   * Announces `userId` (op 11, op 5), waits 100 ms (so that clients which map SSRCs from op 5,
   * like @discordjs/voice, have the mapping before the first packet), then sends its audio as
   * encrypted RTP at 20 ms pacing. Resolves when sent.
   */
  speakAs(options: SpeakAsOptions): Promise<void>;
  /** Sends a raw UDP datagram (garbage, truncated packets …) to a user's UDP address. */
  sendUdp(userId: string, datagram: Uint8Array): void;
  /** Seals one RTP packet with the user's key and sends it (e.g. from an SSRC nobody announced). */
  sendRtp(userId: string, packet: { ssrc: number; sequence: number; timestamp: number; payload: Uint8Array }): void;
  /** Sends a raw frame (text, binary, or a message that gets a `seq`) to a user's socket, or to all. */
  inject(userId: string | null, data: string | Buffer | VoiceMessage): void;

  /** Fault controls. */
  readonly faults: {
    /** Closes the WebSocket of `userId` (or every client) with `code`. */
    close(userId: string | null, code: number, reason?: string): void;
    /** Sets (or with `null` clears) UDP faults. */
    udp(faults: UdpFaults | null): void;
    /** Stops (true) or resumes (false) answering heartbeats. */
    ignoreHeartbeats(ignore: boolean): void;
  };

  /** Stops everything; writes WAV files if `wavDir` was set. */
  close(): Promise<void>;
}
