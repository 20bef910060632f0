/**
 * Media-time tags: where an audio frame (PCM or Opus) sits on its source's own timeline.
 * Not exported from here directly: `frameMediaMs` / `setFrameMediaMs` are public through
 * the package index.
 */
const tags = new WeakMap<object, number>();

/**
 * The position, in ms of the source's own timeline, of the first sample of `frame` (a PCM
 * frame or an Opus packet), or `undefined` for a frame nobody tagged.
 *
 * Who tags: `ffmpegSource` (its seek position + 20 ms per frame), `timescale` (its output
 * frames, mapped back through its input's tags: at speed 1.25 each frame advances the
 * source by 25 ms). Who carries a tag over to the new buffer it emits: `opusEncode`,
 * `volume` and the filters. Who reads it: `voiceSink` and players, whose `positionMs` (and
 * hence seeking) is on the source's timeline: the tag of the last packet sent plus its
 * length on that timeline, or 20 ms per packet when packets carry no tags.
 *
 * The tag lives in a `WeakMap` keyed by the buffer: nothing to free, it survives operators
 * that pass the same buffer on. An operator of your own that emits a new buffer per input
 * buffer keeps positions right with `setFrameMediaMs(out, frameMediaMs(input))`.
 */
export function frameMediaMs(frame: Uint8Array): number | undefined {
  return tags.get(frame);
}

/** Tags `frame` with its position on its source's timeline, ms (see {@link frameMediaMs}); `undefined` is ignored. */
export function setFrameMediaMs(frame: Uint8Array, ms: number | undefined): void {
  if (ms !== undefined) tags.set(frame, ms);
}
