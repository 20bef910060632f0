import { OpusEncoder } from '@discordjs/opus';
import { Observable } from 'rxjs';
import { currentDemand, DemandGate } from '../../src/core/FrameDemand';
import { generateTone } from '../../src/testing';

/** Opus packets of a tone, honouring the sink's demand (a minimal demand-aware source for tests). */
export function opusTone(frequency: number, durationMs: number): Observable<Buffer> {
  return new Observable<Buffer>((subscriber) => {
    const pcm = generateTone({ frequency, durationMs });
    const enc = new OpusEncoder(48000, 2);
    const demand = currentDemand();
    const gate = new DemandGate(demand);
    let i = 0;
    const frames = Math.ceil(pcm.length / 3840);
    const pump = () => {
      while (i < frames && gate.open) {
        const frame = Buffer.alloc(3840);
        pcm.copy(frame, 0, i * 3840, (i + 1) * 3840);
        subscriber.next(enc.encode(frame));
        gate.produced();
        i++;
      }
      if (i >= frames) subscriber.complete();
    };
    const sub = demand?.changes$.subscribe(pump);
    pump();
    return () => sub?.unsubscribe();
  });
}
