import type { OutgoingMessage } from '../types';

/** A log line of the node (never contains passwords or voice tokens). */
export interface NodeLogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

/** What the node's internals share: settings resolved from the configuration, and the logger. */
export interface NodeContext {
  /** `lavalink.server.password`. */
  readonly password: string;
  /** Source managers that are on (`http`, `local`), in the order `/v4/info` lists them. */
  readonly sourceManagers: readonly string[];
  /** Filter names that are on (`/v4/info` `filters`; others are refused with 400). */
  readonly filters: readonly string[];
  /** `lavalink.server.playerUpdateInterval`, ms (Lavalink: seconds in the file, default 5). */
  readonly playerUpdateIntervalMs: number;
  /** `stats` op period, ms (Lavalink: 60 s). */
  readonly statsIntervalMs: number;
  /** `lavalink.server.trackStuckThresholdMs` (default 10000). */
  readonly trackStuckThresholdMs: number;
  /** Resume timeout when a client enables resuming without one, s (Lavalink: 60). */
  readonly defaultResumeTimeoutS: number;
  /** Whether voice connections use DAVE (default true, as Lavalink ≥ 4.2). */
  readonly dave: boolean;
  readonly log: (entry: NodeLogEntry) => void;
}

/** Where a player sends its messages: its session's WebSocket (queued while a resumable session is away). */
export interface MessageSink {
  send(message: OutgoingMessage): void;
}
