/**
 * Layout of raw PCM handed to the audio helpers: signed 16-bit little-endian samples,
 * interleaved by channel (`L R L R …` for stereo). A trailing partial frame is ignored.
 */
export interface PcmFormat {
  /** Samples per second per channel, Hz. Default 48000 (Discord's Opus clock). */
  sampleRate?: number;
  /** Interleaved channel count. Default 2. */
  channels?: number;
}
