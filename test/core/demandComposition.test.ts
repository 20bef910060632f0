/**
 * Demand reaches every source however it is composed: a consumer with a 200 ms lead
 * (10 frames) holds what it receives; no composition lets a source read further ahead, and
 * every source goes on when the consumer takes audio. No sockets: a `SinkDemand` is the sink.
 */
import {
  concat,
  concatMap,
  defer,
  filter,
  map,
  mergeMap,
  Observable,
  observeOn,
  asapScheduler,
  repeat,
  Subject,
  switchMap,
  take,
  tap,
  timer,
  type Subscription,
} from 'rxjs';
import { SinkDemand, withDemand } from '../../src/core/FrameDemand';
import { mix } from '../../src/operators/mix';
import { toneSource } from '../../src/sources/toneSource';

const LEAD_FRAMES = 10;
const settle = () => new Promise((r) => setTimeout(r, 30));

/** A 10 s tone that counts the frames it produced into `counter.n`. */
const counted = (counter: { n: number }, durationMs = 10_000): Observable<Buffer> =>
  toneSource({ frequency: 440, durationMs }).pipe(tap(() => counter.n++));

function consume(source: Observable<Buffer>): { demand: SinkDemand; received: () => number; sub: Subscription } {
  const demand = new SinkDemand(LEAD_FRAMES * 20);
  let received = 0;
  const sub = withDemand(demand, () =>
    source.subscribe(() => {
      demand.received();
      received++;
    }),
  );
  return { demand, received: () => received, sub };
}

const cases: Array<[string, (c: { n: number }) => Observable<Buffer>]> = [
  ['concat: the second input', (c) => concat(toneSource({ frequency: 220, durationMs: 100 }), counted(c))],
  [
    'concatMap over a queue Subject fed later',
    (c) =>
      defer(() => {
        const queue$ = new Subject<number>();
        setTimeout(() => queue$.next(1), 5);
        return queue$.pipe(concatMap(() => counted(c)));
      }),
  ],
  [
    'mergeMap over a queue Subject fed later',
    (c) =>
      defer(() => {
        const queue$ = new Subject<number>();
        setTimeout(() => queue$.next(1), 5);
        return queue$.pipe(mergeMap(() => counted(c)));
      }),
  ],
  ['switchMap from a timer', (c) => timer(5).pipe(switchMap(() => counted(c)))],
  ['defer created after a delay', (c) => timer(5).pipe(concatMap(() => defer(() => counted(c))))],
  ['repeat', (c) => counted(c, 100).pipe(repeat(200))],
  [
    'mix of queued tracks',
    (c) =>
      mix(
        timer(5).pipe(concatMap(() => concat(counted(c, 200), counted(c)))),
        toneSource({ frequency: 110, durationMs: 10_000 }),
      ),
  ],
  ['a user’s own operators between source and sink', (c) => timer(5).pipe(concatMap(() => counted(c).pipe(map((f) => Buffer.from(f)), filter((_, i) => i % 7 !== 3))))],
];

describe.each(cases)('%s', (_name, make) => {
  test('reads at most the lead ahead, and goes on as the consumer takes audio', async () => {
    const counter = { n: 0 };
    const { demand, received, sub } = consume(make(counter));
    await settle();
    expect(received()).toBeGreaterThanOrEqual(LEAD_FRAMES - 1);
    expect(demand.bufferedMs).toBeLessThanOrEqual((LEAD_FRAMES + 2) * 20);
    const before = counter.n;
    await settle();
    expect(counter.n).toBe(before); // nothing more while the consumer holds its lead
    for (let i = 0; i < 20; i++) {
      demand.consume(100);
      await settle();
    }
    expect(received()).toBeGreaterThanOrEqual(90);
    expect(demand.bufferedMs).toBeLessThanOrEqual((LEAD_FRAMES + 2) * 20);
    sub.unsubscribe();
  });
});

test('an asynchronous operator between source and sink hides the source: it reads freely (and voiceSink warns)', async () => {
  const counter = { n: 0 };
  const { received, sub } = consume(counted(counter, 1000).pipe(observeOn(asapScheduler)));
  await settle();
  expect(counter.n).toBe(50);
  expect(received()).toBe(50);
  sub.unsubscribe();
});

test('take() downstream ends the source', async () => {
  const counter = { n: 0 };
  const { received } = consume(timer(1).pipe(concatMap(() => counted(counter)), take(5)));
  await settle();
  expect(received()).toBe(5);
  expect(counter.n).toBeLessThanOrEqual(5);
});
