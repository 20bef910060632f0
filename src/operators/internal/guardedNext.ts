import type { Subscriber } from 'rxjs';
import { RxVoiceError } from '../../errors';
import { describeValue } from './describeValue';

/**
 * Wraps an operator's `next` handler the way RxJS's own operators run theirs: a throw (an item
 * that is not what the operator takes, e.g. `null` from plain JavaScript) errors the stream
 * (`BAD_FRAME`, or the thrown `RxVoiceError` as is) instead of escaping `next`, which RxJS
 * would report as an uncaught exception.
 */
export function guardedNext<T>(subscriber: Subscriber<unknown>, operator: string, next: (value: T) => void): (value: T) => void {
  return (value) => {
    try {
      next(value);
    } catch (err) {
      subscriber.error(
        err instanceof RxVoiceError
          ? err
          : new RxVoiceError('BAD_FRAME', `${operator} could not take ${describeValue(value)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      );
    }
  };
}
