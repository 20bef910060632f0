/**
 * Parses a time as the command line takes it, into ms: `90` or `90s` (seconds), `1.5s`,
 * `500ms`, `2m`, `1h`, `1:30`, `1:02:03.5`. Returns null when it is none of these.
 */
export function parseTimeMs(text: string): number | null {
  const t = text.trim();
  let m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/i.exec(t);
  if (m) {
    const n = Number(m[1]);
    const unit = (m[2] ?? 's').toLowerCase();
    const factor = unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000;
    return Math.round(n * factor);
  }
  m = /^(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(t);
  if (m) {
    const h = Number(m[1] ?? 0);
    const min = Number(m[2]);
    const s = Number(m[3]);
    if (s >= 60 || (m[1] !== undefined && min >= 60)) return null;
    return Math.round(((h * 60 + min) * 60 + s) * 1000);
  }
  return null;
}

/** `m:ss.t` (or `h:mm:ss.t`) for a duration in ms. */
export function formatTime(ms: number): string {
  const tenths = Math.floor(Math.max(0, ms) / 100);
  const t = tenths % 10;
  const totalS = Math.floor(tenths / 10);
  const s = totalS % 60;
  const totalM = Math.floor(totalS / 60);
  const m = totalM % 60;
  const h = Math.floor(totalM / 60);
  const ss = `${String(s).padStart(2, '0')}.${t}`;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
