/**
 * Cuts a stream's chunks into the items a source emits (PCM frames, Opus packets).
 * Used by {@link gatedStream}; internal.
 */
export interface Framer<T> {
  /** Takes one chunk of the stream. Throws on a chunk it cannot take (wrong type). */
  write(chunk: unknown): void;
  /** The stream ended: a partial item still held becomes available (padded). */
  end(): void;
  /** Whether {@link read} would return an item now. */
  available(): boolean;
  /** The next item; only call when {@link available}. */
  read(): T;
  /** Duration of `item`, ms (what the demand gate counts). */
  durationMs(item: T): number;
  /**
   * A parse failure found after the items before it (optional): non-null once every item
   * before it was read; the stream then errors with it.
   */
  failure?(): unknown;
}
