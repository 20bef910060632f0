import { map, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isOpusGap, type JitterItem } from '../../src/core/JitterItem';
import type { ReceivedPacket } from '../../src/gateway';
import { detectSpeaking } from '../../src/operators/detectSpeaking';
import { endAfterSilence } from '../../src/operators/endAfterSilence';
import { jitterBuffer, type JitterBufferStats } from '../../src/operators/jitterBuffer';

const newScheduler = () => new TestScheduler((a, e) => expect(a).toEqual(e));
const SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);

/**
 * Packets from a marble where each letter is a sequence offset: `a` = 0, `b` = 1 … from a
 * base sequence (wrap-around tested with a base near 65535); `S` = a silence frame at the
 * next sequence after the highest so far. `receivedAt` = the scheduler's now.
 */
function packets(ts: TestScheduler, cold: (m: string) => Observable<string>, marble: string, base = 100): Observable<ReceivedPacket> {
  let highest = -1;
  return cold(marble).pipe(
    map((ch) => {
      const offset = ch === 'S' ? highest + 1 : ch.charCodeAt(0) - 97;
      highest = Math.max(highest, offset);
      const seq = (base + offset) & 0xffff;
      return {
        sequence: seq,
        timestamp: (1000 + offset * 960) >>> 0,
        ssrc: 1,
        payload: ch === 'S' ? SILENCE : Buffer.from([offset]),
        receivedAt: ts.now(),
      };
    }),
  );
}

/** Item → letter: a packet's offset as a letter, `S` for silence, `_` for a gap, `+` for a gap carrying the next packet. */
const letter = (item: JitterItem): string => {
  if (isOpusGap(item)) return item.next ? '+' : '_';
  if (item.equals(SILENCE)) return 'S';
  return String.fromCharCode(97 + item[0]);
};

describe('jitterBuffer (marbles)', () => {
  test('starts delayMs after the first packet and emits one item per 20 ms', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = packets(ts, cold, 'a 19ms b 19ms c 19ms S|');
      // first packet at 0, delay 60 -> plays on the tick at 60, then 80, 100, 120
      expectObservable(src.pipe(jitterBuffer({ scheduler: ts, delayMs: 60 }), map(letter))).toBe('60ms a 19ms b 19ms c 19ms (S|)');
    });
  });

  test('reorders, drops duplicates, fills a loss with a gap that carries the next packet', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const stats: JitterBufferStats[] = [];
      // arrivals: a, c (b late), b, d, d (dup), f (e lost), g, S
      const src = packets(ts, cold, 'a 19ms c 9ms b 9ms d 9ms d 9ms f 19ms g 19ms S|');
      expectObservable(src.pipe(jitterBuffer({ scheduler: ts, delayMs: 60, onStats: (s) => stats.push(s) }), map(letter))).toBe(
        '60ms a 19ms b 19ms c 19ms d 19ms + 19ms f 19ms g 19ms (S|)',
      );
      ts.flush();
      expect(stats[stats.length - 1]).toMatchObject({ played: 7, gaps: 1, duplicates: 1, late: 0 });
    });
  });

  test('a packet whose slot has passed is dropped and counted as late', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const stats: JitterBufferStats[] = [];
      // a at 0, c at 25, b at 50 (its slot, 40, has passed), d at 75, S at 95
      const src = packets(ts, cold, 'a 24ms c 24ms b 24ms d 19ms S|');
      expectObservable(src.pipe(jitterBuffer({ scheduler: ts, delayMs: 20, onStats: (s) => stats.push(s) }), map(letter))).toBe(
        '20ms a 19ms + 19ms c 19ms d 19ms (S|)',
      );
      ts.flush();
      expect(stats[stats.length - 1]).toMatchObject({ late: 1, gaps: 1 });
    });
  });

  test('sequence wrap-around (65534, 65535, 0, 1) keeps order', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = packets(ts, cold, 'a 9ms c 9ms b 9ms d|', 65534);
      expectObservable(src.pipe(jitterBuffer({ scheduler: ts, delayMs: 40 }), map(letter))).toBe('40ms a 19ms b 19ms c 19ms (d|)');
    });
  });

  test('goes idle after silence and restarts with the next talk spurt', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = packets(ts, cold, 'a 19ms S 499ms c 19ms S|');
      expectObservable(src.pipe(jitterBuffer({ scheduler: ts, delayMs: 40 }), map(letter))).toBe('40ms a 19ms S 499ms c 19ms (S|)');
    });
  });

  test('holds at most maxDelayMs: a burst beyond it is dropped and counted (bounded memory)', () => {
    const ts = newScheduler();
    ts.run(({ cold }) => {
      const stats: JitterBufferStats[] = [];
      const burst = Array.from({ length: 40 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
      // 26 distinct offsets arrive at once (then 14 duplicates): at most maxDelay/20 + 2 = 7 are held
      packets(ts, cold, `(${burst}|)`).pipe(jitterBuffer({ scheduler: ts, delayMs: 60, maxDelayMs: 100, onStats: (s) => stats.push(s) })).subscribe();
      ts.flush();
      const last = stats[stats.length - 1];
      expect(last.overflow).toBeGreaterThanOrEqual(19);
      expect(last.played).toBeLessThanOrEqual(7);
    });
  });
});

describe('endAfterSilence and detectSpeaking (marbles)', () => {
  test('endAfterSilence completes ms after the last sound; silence frames do not count', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = packets(ts, cold, 'a 19ms b 19ms S 19ms S');
      expectObservable(src.pipe(endAfterSilence(100, { scheduler: ts }), map((p) => letter(p.payload)))).toBe('a 19ms b 19ms S 19ms S 59ms |');
    });
  });

  test('detectSpeaking: start at the first sound, stop after the hangover, again on new sound', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = packets(ts, cold, 'a 19ms b 19ms S 499ms c 19ms S|');
      expectObservable(src.pipe(detectSpeaking({ hangoverMs: 200, scheduler: ts }), map((c) => (c.speaking ? 'on' : 'off')))).toBe(
        'a 219ms b 319ms c 20ms (d|)',
        { a: 'on', b: 'off', c: 'on', d: 'off' },
      );
    });
  });
});
