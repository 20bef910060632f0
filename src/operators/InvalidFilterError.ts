import { RxVoiceError } from '../errors';

/**
 * An audio filter got parameters outside their documented range: thrown synchronously by a
 * filter operator (`equalizer`, `tremolo`, `filters`, …) given a plain value, emitted as the
 * stream's error when a parameter `Observable` of a single filter emits one, and handed to
 * `filters`' `onError` (the stream goes on with the previous config) when its config
 * `Observable` emits one.
 *
 * @example
 * ```ts
 * try {
 *   equalizer([{ band: 3, gain: 2 }]);
 * } catch (err) {
 *   if (err instanceof InvalidFilterError) console.log(err.field); // 'equalizer[0].gain'
 * }
 * ```
 */
export class InvalidFilterError extends RxVoiceError<'INVALID_FILTER'> {
  /**
   * The offending field as a path in Lavalink's filter object: `volume`, `tremolo.depth`,
   * `equalizer[3].gain`, or the filter's own name when the whole value is not an object.
   */
  readonly field: string;
  /** The value found there. */
  readonly value: unknown;

  constructor(field: string, value: unknown, expected: string) {
    super('INVALID_FILTER', `Invalid filter parameter ${field}: must be ${expected}, got ${describe(value)}`);
    this.field = field;
    this.value = value;
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
