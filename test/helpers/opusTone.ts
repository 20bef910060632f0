import { OpusEncoder } from '@discordjs/opus';
import { defer, type Observable } from 'rxjs';
import { frameSource } from '../../src/sources/frameSource';
import { generateTone } from '../../src/testing';

/** Opus packets of a tone, honouring the sink's demand (a minimal demand-aware source for tests). */
export function opusTone(frequency: number, durationMs: number): Observable<Buffer> {
  return defer(() => {
    const pcm = generateTone({ frequency, durationMs });
    const enc = new OpusEncoder(48000, 2);
    const frames = Math.ceil(pcm.length / 3840);
    return frameSource((i) => {
      if (i >= frames) return undefined;
      const frame = Buffer.alloc(3840);
      pcm.copy(frame, 0, i * 3840, (i + 1) * 3840);
      return enc.encode(frame);
    });
  });
}
