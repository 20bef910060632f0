import { performance } from 'node:perf_hooks';
import { filter, map, scan, shareReplay, startWith, type Observable } from 'rxjs';
import { VoiceOpcode, type SpeakingData, type VoiceMessage } from '../../protocol/opcodes';
import type { SpeakingEvent } from '../connectVoice';

/** `conn.speaking$` from the gateway messages: op 5 with a user id and an SSRC, stamped on arrival. */
export function speakingEvents(messages$: Observable<VoiceMessage>): Observable<SpeakingEvent> {
  return messages$.pipe(
    filter((m) => m.op === VoiceOpcode.Speaking),
    map((m) => m.d as Partial<SpeakingData>),
    filter((d): d is SpeakingData & { user_id: string } => typeof d?.user_id === 'string' && typeof d.ssrc === 'number'),
    map((d) => ({ userId: d.user_id, ssrc: d.ssrc, speaking: typeof d.speaking === 'number' ? d.speaking : 0, receivedAt: performance.now() })),
  );
}

type ClientsAction = { kind: 'reset' } | { kind: 'add'; ids: string[] } | { kind: 'remove'; id: string };

/** `conn.clients$` from the gateway messages (ops 11/13 and 5; READY resets), replayed (subscribe it to keep it current). */
export function clientSet(messages$: Observable<VoiceMessage>): Observable<ReadonlySet<string>> {
  return messages$.pipe(
    map((m): ClientsAction | null => {
      const d = m.d as Record<string, unknown> | null;
      if (m.op === VoiceOpcode.Ready) return { kind: 'reset' };
      if (m.op === VoiceOpcode.ClientsConnect && Array.isArray(d?.user_ids)) {
        return { kind: 'add', ids: d.user_ids.filter((x): x is string => typeof x === 'string') };
      }
      if (m.op === VoiceOpcode.Speaking && typeof d?.user_id === 'string') return { kind: 'add', ids: [d.user_id] };
      if (m.op === VoiceOpcode.ClientDisconnect && typeof d?.user_id === 'string') return { kind: 'remove', id: d.user_id };
      return null;
    }),
    filter((a): a is ClientsAction => a !== null),
    scan((set: ReadonlySet<string>, a: ClientsAction) => {
      if (a.kind === 'reset') return new Set<string>();
      const next = new Set(set);
      if (a.kind === 'add') a.ids.forEach((id) => next.add(id));
      else next.delete(a.id);
      return next;
    }, new Set<string>()),
    startWith(new Set<string>() as ReadonlySet<string>),
    shareReplay({ bufferSize: 1, refCount: false }),
  );
}
