import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';

/** Lavalink-style timescale parameters (all default 1, must be > 0). */
export interface TimescaleParams {
  /** Tempo factor without changing pitch. */
  speed?: number;
  /** Pitch factor without changing tempo. */
  pitch?: number;
  /** Playback-rate factor: changes both tempo and pitch. */
  rate?: number;
}

/** Placeholder: passes frames through unchanged (implementation in progress). */
export function timescale(params: TimescaleParams | Observable<TimescaleParams>): MonoTypeOperatorFunction<PcmFrame> {
  void params;
  return (source) => source;
}
