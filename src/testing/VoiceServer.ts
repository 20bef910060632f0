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
  /**
   * Act as a DAVE voice gateway (daveprotocol.com): clients that identify with
   * `max_dave_protocol_version` ≥ 1 get `dave_protocol_version: 1` and the MLS external sender
   * (op 25); the emulator is the group's delivery service (external Add/Remove proposals, first
   * commit of an epoch wins, welcomes, transitions, sole member reset, downgrade to protocol 0
   * while a client without DAVE is connected unless `requireDave`). See `server.dave()`.
   * Default false.
   */
  dave?: boolean;
  /**
   * Act as the SFU: forward the media each client sends (transport-decrypted, payload — an E2EE
   * frame under DAVE — untouched) to every other client of the same `serverId` with UDP set up,
   * resealed with the recipient's key. Default: `true` with `dave`, else false.
   */
  relay?: boolean;
  /** DAVE: wait this long for op 23 from every member before op 22 execute_transition, ms. Default 2000. */
  daveTransitionTimeoutMs?: number;
  /** Sessions accepted by IDENTIFY (more can be added with `registerSession`). */
  sessions?: VoiceSessionCredentials[];
  /** Accept any token and session id (for demos and `npm run emulator`). Default false. */
  acceptAnySession?: boolean;
  /**
   * With `acceptAnySession`: the voice channel id of sessions that were not registered, which
   * under DAVE is the MLS group id (a client's `channelId`; IDENTIFY carries no channel).
   * Default: each session's server id (`serverId`).
   */
  anySessionChannelId?: string;
  /** Decode received Opus to PCM (s16le 48 kHz stereo) and keep it. Default true. */
  decode?: boolean;
  /** Keep at most this much audio (ms) per stream, PCM and Opus payloads. Default 600000 (10 min). */
  maxKeptAudioMs?: number;
  /**
   * Benchmarks: called with each RTP datagram as it arrives, before fault injection and
   * decryption; return `false` to skip decrypting and recording it (sampled decryption).
   */
  onRtpDatagram?: (datagram: Buffer) => boolean | void;
  /** SO_RCVBUF of the UDP socket, bytes (many concurrent streams). Default: the OS default. */
  udpReceiveBufferSize?: number;
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
  /** Guild (server) id. Clients with the same `serverId` and `channelId` share a channel. */
  serverId: string;
  userId: string;
  sessionId: string;
  token: string;
  /**
   * Voice channel id (what a client passes to its DAVE session). Clients of one guild in
   * different channels do not hear each other and have separate DAVE groups. With `dave`, the
   * channel's MLS group id is this id as a big-endian u64; default `serverId` (right for DM
   * calls, where the server id is the channel id). DAVE needs numeric (snowflake) user and
   * channel ids.
   */
  channelId?: string;
}

/** A voice session as the emulator recorded it, from `sessionHistory()` (one per accepted IDENTIFY). */
export interface VoiceSessionRecord extends Pick<VoiceServerClient, 'userId' | 'serverId' | 'channelId' | 'sessionId' | 'ssrc' | 'resumes'> {
  /** `performance.now()` ms of the IDENTIFY, and of the end (null while it lasts or awaits a RESUME). */
  startedAt: number;
  endedAt: number | null;
  /** The close code that ended it (e.g. 4014 from `endSession`, 1000 from the client), null if it expired unresumed or is live. */
  endCode: number | null;
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
  /** The channel the session that owns the SSRC is in (one stream per session: a move starts another). */
  channelId: string;
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
  /**
   * Of `frames`, payloads that pass the DAVE protocol frame check (0xFAFA magic marker footer,
   * daveprotocol.com "Protocol Frame Check"): end-to-end encrypted, not Opus. They are kept in
   * `payloads` but not decoded (nor counted as `decodeFailures`).
   */
  e2eeFrames: number;
}

/** A client session as the emulator sees it. */
export interface VoiceServerClient {
  userId: string;
  serverId: string;
  /** Registered `channelId` (default `serverId`). */
  channelId: string;
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
  | { type: 'identify'; userId: string; serverId: string; channelId: string; sessionId: string; daveVersion: number }
  | { type: 'resume'; userId: string; sessionId: string; seqAck: number; replayed: number }
  | { type: 'select-protocol'; userId: string; mode: string; address: string; port: number }
  | { type: 'heartbeat'; userId: string | null; seqAck: number | null }
  | { type: 'speaking'; userId: string; flags: number }
  | { type: 'client-message'; userId: string | null; op: number }
  | { type: 'close'; userId: string | null; code: number; reason: string; byServer: boolean }
  /** `code`: the close that ended it (null: the resume window expired, or another IDENTIFY replaced it unconnected). */
  | { type: 'session-end'; userId: string; sessionId: string; code: number | null }
  | { type: 'udp-discovery'; ssrc: number; address: string; port: number }
  | { type: 'udp-stream-start'; userId: string; ssrc: number }
  | { type: 'udp-bad-packet'; reason: string; bytes: number }
  /** Op 26 validated (or not). */
  | { type: 'dave-key-package'; serverId: string; userId: string; accepted: boolean; reason?: string }
  /** Op 27 sent: proposals appended or revoked, for the group at `epoch`. */
  | {
      type: 'dave-proposals';
      serverId: string;
      operation: 'append' | 'revoke';
      epoch: number;
      proposals: Array<{ kind: 'add' | 'remove'; userId: string }>;
      recipients: string[];
    }
  /** Op 28 received: accepted (first valid commit of `epoch`, relayed as op 29) or rejected. */
  | {
      type: 'dave-commit';
      serverId: string;
      userId: string;
      /** Epoch the commit was made in (-1 if it could not be read). */
      epoch: number;
      accepted: boolean;
      reason?: string;
      transitionId?: number;
      added?: string[];
      removed?: string[];
    }
  /** Op 30 sent to a welcomed member (`corrupted` by `faults.corruptDaveWelcome`). */
  | { type: 'dave-welcome'; serverId: string; userId: string; transitionId: number; corrupted: boolean }
  /**
   * A transition: `prepare` (op 29 / op 21 sent), `execute` (op 22 sent, after every op 23 or
   * the timeout), or `prepare-epoch` (op 24: upgrade, or sole member reset with op 21 id 0).
   */
  | {
      type: 'dave-transition';
      serverId: string;
      transitionId: number;
      phase: 'prepare' | 'execute' | 'prepare-epoch';
      reason: 'commit' | 'downgrade' | 'upgrade' | 'sole-member-reset';
      protocolVersion: number;
      epoch: number;
      users: string[];
      timedOut?: boolean;
      /** Execute: users that never sent op 23. */
      notReady?: string[];
    }
  /** Op 31 received from `userId`. */
  | { type: 'dave-invalid'; serverId: string; userId: string; transitionId: number };

/** DAVE state of one channel, from `server.dave()`. */
export interface DaveStatus {
  serverId: string;
  /** Channel id the MLS group id comes from. */
  channelId: string;
  /** 1 = DAVE, 0 = downgraded to transport encryption only (a client without DAVE is connected). */
  protocolVersion: number;
  /** A commit created the group (false during initial group creation and after a reset). */
  established: boolean;
  /** MLS epoch of the group (0 while unestablished). */
  epoch: number;
  /** Group members (user ids) in leaf order, as the delivery service tracks them. */
  members: string[];
  /** Leaf index of each member in the MLS ratchet tree (removals leave blank leaves; adds fill the leftmost). */
  leaves: Record<string, number>;
  /** Connected DAVE clients not (or no longer, after op 31) taking part in the group. */
  pending: string[];
  /** Transitions executed (op 22 sent). */
  transitions: number;
  commitsAccepted: number;
  /** Invalid and stale commits (a later commit for an epoch that already moved on). */
  commitsRejected: number;
  /** Op 31 reports. */
  invalidReports: number;
  /** Last internal error of the DAVE layer, if any (a bug in the emulator). */
  lastError?: string;
}

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
  /** RTP packets forwarded to other clients (`relay`), one per recipient. */
  relayed: number;
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
  /** Only to clients in this channel (their registered `channelId`, default their `serverId`). */
  channelId?: string;
  /** Send op 13 CLIENT_DISCONNECT for the user when done. Default false. */
  leaveAfter?: boolean;
  /** Trailing Opus silence frames. Default 5. */
  silenceFrames?: number;
  /**
   * Pauses in the stream, as a client pausing between talk spurts: `atMs` into the source's
   * audio (a multiple of 20), the user sends `silenceFrames` Opus silence frames, then
   * nothing, and the next audio frame leaves `durationMs` after the frame before the pause
   * ended (the silence frames are part of the pause). The RTP sequence continues; the RTP
   * timestamp jumps by the pause (`timestamp: 'jump'`, default: it tracks the sender's clock)
   * or continues as if there had been no pause (`'frozen'`: a sender whose timestamps do not
   * advance while it sends nothing).
   */
  pauses?: ReadonlyArray<{ atMs: number; durationMs: number; timestamp?: 'jump' | 'frozen' }>;
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
  /**
   * Every session an IDENTIFY started since the emulator started (of `userId`, or all), in
   * order, ended ones included: how many voice sessions a bot made, in which channels, and
   * how each ended.
   */
  sessionHistory(userId?: string): VoiceSessionRecord[];
  /**
   * Ends a session the way Discord's voice server does when the user leaves the channel, is
   * moved to another one or is disconnected by a moderator: closes its WebSocket with `code`
   * (default 4014 Disconnected), not resumable, CLIENT_DISCONNECT (op 13) to the others, the
   * DAVE group removes it, and its credentials are forgotten (the token no longer
   * authenticates). Returns false if no live session has that id. The main-gateway emulator
   * calls it on moves and disconnects.
   */
  endSession(sessionId: string, code?: number, reason?: string): boolean;
  /** What was received, one entry per SSRC. */
  received(): ReceivedStream[];
  /** The stream of one user (the last SSRC it was given), or undefined. */
  receivedFrom(userId: string): ReceivedStream | undefined;
  /** Forget received streams. */
  resetReceived(): void;
  /** UDP counters: datagrams dropped as malformed (`badPackets`, of which `unknownSsrc`), keep-alives, IP discoveries, injected faults. */
  udpStats(): UdpStats;
  /**
   * DAVE state of a channel: `channelId` of guild `serverId`; without `channelId`, the first
   * channel of that guild a client joined; without either, the first channel. Undefined
   * without `dave` or before any client of that channel identified.
   */
  dave(serverId?: string, channelId?: string): DaveStatus | undefined;

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
    /**
     * DAVE: corrupt the next `count` (default 1) welcomes (op 30) sent to `userId`, so that it
     * fails to join and reports op 31. `count` 0 cancels.
     */
    corruptDaveWelcome(userId: string, count?: number): void;
    /**
     * DAVE: downgrade the guild's channels (or the one `channelId`) to protocol 0 as if a
     * client without DAVE were connected (true), or let them upgrade back (false) once no such
     * client is left.
     */
    forceDaveDowngrade(serverId: string, downgrade: boolean, channelId?: string): void;
  };

  /** Stops everything; writes WAV files if `wavDir` was set. */
  close(): Promise<void>;
}
