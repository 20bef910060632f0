/**
 * Turns bench/results/*.json into the results section of bench/README.md (between the
 * `<!-- results:start -->` and `<!-- results:end -->` markers; the rest of the file is prose).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function load(dir: string, name: string): Json | null {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as Json;
  } catch {
    return null;
  }
}

const fmt = (v: unknown, digits = 2): string => {
  if (v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v))) return '—';
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(digits);
};

const ratio = (a: unknown, b: unknown): string =>
  typeof a === 'number' && typeof b === 'number' && b !== 0 && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '—';

/** Which voice driver the rxvoice runs used (from a run's `driver`, recorded by the client). */
function driverSummary(d: Json | undefined): string {
  if (!d) return '';
  const how = d.exported
    ? `the voice driver with ${d.threads ?? '?'} worker thread(s)${d.threads === 0 ? ' (in-process)' : ''}`
    : `in-process (\`configureVoiceDriver\` not exported from src/index in this version; \`voiceDriverThreads()\` says ${d.threads ?? '—'})`;
  return `rxvoice ran with its default driver setting (threads = cores) in every scenario except the busy bot's "threads 0" column: ${how}.`;
}

export interface TargetStatus {
  target: string;
  met: boolean | null;
  detail: string;
}

export function writeReport(resultsDir: string, readmePath: string): { targets: TargetStatus[] } {
  const micro = load(resultsDir, 'micro');
  const pass = load(resultsDir, 'passthrough');
  const scale = load(resultsDir, 'scale');
  const trans = load(resultsDir, 'transcode');
  const ttfp = load(resultsDir, 'ttfp');
  const rss = load(resultsDir, 'rss');
  const dave = load(resultsDir, 'dave');
  const profile = load(resultsDir, 'profile');
  const tScale = load(resultsDir, 'transcode-scale');
  const busy = load(resultsDir, 'busy');
  const filters = load(resultsDir, 'filters');
  const lavalink = load(resultsDir, 'lavalink');
  const recording = load(resultsDir, 'recording');
  const env = (pass ?? micro ?? scale ?? trans ?? rss ?? filters)?.environment as Json | undefined;

  const rows: string[] = ['| figure | rxvoice | @discordjs/voice | rxvoice / djs |', '|---|---:|---:|---:|'];
  const row = (figure: string, a: unknown, b: unknown, digits = 2): void => {
    rows.push(`| ${figure} | ${fmt(a, digits)} | ${fmt(b, digits)} | ${ratio(a, b)} |`);
  };
  const runsOf = (j: Json | null): Json[] => (j?.runs as Json[] | undefined) ?? [];
  const pick = (runs: Json[], lib: string, n: number): Json | undefined => runs.find((r) => r.lib === lib && r.n === n);
  const ns = (runs: Json[]): number[] => [...new Set(runs.map((r) => r.n as number))].sort((a, b) => a - b);

  const pRuns = runsOf(pass);
  for (const n of ns(pRuns)) {
    const a = pick(pRuns, 'rxvoice', n);
    const b = pick(pRuns, 'djs', n);
    row(`Passthrough N=${n}: client CPU per stream, ms per s of audio`, a?.cpuMsPerStreamSec, b?.cpuMsPerStreamSec, 3);
    row(`Passthrough N=${n}: pacing p50 / p99 / max, ms`, a ? `${fmt(a.pacing.p50)} / ${fmt(a.pacing.p99)} / ${fmt(a.pacing.max)}` : null, b ? `${fmt(b.pacing.p50)} / ${fmt(b.pacing.p99)} / ${fmt(b.pacing.max)}` : null);
    rows[rows.length - 1] = rows[rows.length - 1].replace(/\| — \|$/, `| ${ratio(a?.pacing.p99, b?.pacing.p99)} (p99) |`);
    row(`Passthrough N=${n}: packets lost (gaps + missing)`, a ? a.lost + a.missingAudio : null, b ? b.lost + b.missingAudio : null, 0);
    row(`Passthrough N=${n}: peak RSS, MB`, a?.peakRssMb, b?.peakRssMb, 1);
  }
  if (scale) {
    const a = scale.rxvoice as Json | undefined;
    const b = scale.djs as Json | undefined;
    row('Max streams per process (p99 ≤ 5 ms, zero loss)', a?.maxStreams, b?.maxStreams, 0);
  }
  const tRuns = runsOf(trans);
  for (const n of ns(tRuns)) {
    const a = pick(tRuns, 'rxvoice', n);
    const b = pick(tRuns, 'djs', n);
    row(`Transcode mp3 N=${n}: CPU per stream incl. ffmpeg, ms per s`, a?.totalCpuMsPerStreamSec, b?.totalCpuMsPerStreamSec, 2);
    row(`Transcode mp3 N=${n}: client process only (window), ms per s`, a?.cpuMsPerStreamSec, b?.cpuMsPerStreamSec, 2);
    row(`Transcode mp3 N=${n}: pacing p99, ms`, a?.pacing.p99, b?.pacing.p99);
  }
  if (tScale) {
    row('Max transcode (mp3) streams per process (p99 ≤ 5 ms, zero loss)', tScale.rxvoice?.maxStreams, tScale.djs?.maxStreams, 0);
  }
  const busyRuns = runsOf(busy);
  const busyOf = (variant: string): Json | undefined => busyRuns.find((r) => r.variant === variant);
  const busyTitle = busy ? `Busy bot N=${busy.n} (main thread blocked ${busy.busy?.blockMs} of every ${busy.busy?.periodMs} ms)` : '';
  if (busyRuns.length) {
    const a = busyOf('rxvoice-driver');
    const b = busyOf('djs');
    row(`${busyTitle}, rxvoice driver: pacing p99, ms`, a?.pacing.p99, b?.pacing.p99);
    row(`${busyTitle}, rxvoice driver: packets lost`, a ? a.lost + a.missingAudio : null, b ? b.lost + b.missingAudio : null, 0);
  }
  if (ttfp) {
    row('VOICE_SERVER_UPDATE → first packet, first join, ms', ttfp.rxvoice?.firstMs, ttfp.djs?.firstMs, 1);
    row('VOICE_SERVER_UPDATE → first packet, later joins (median), ms', ttfp.rxvoice?.warmMedianMs, ttfp.djs?.warmMedianMs, 1);
  }
  if (rss) {
    row(`RSS slope, ${rss.rxvoice?.streams ?? '?'} streams of 1 h inputs, MB/min`, rss.rxvoice?.rssMbPerMin, rss.djs?.rssMbPerMin, 3);
    row('RSS growth over the 1 h input, extrapolated, MB', rss.rxvoice?.extrapolatedHourGrowthMb, rss.djs?.extrapolatedHourGrowthMb, 1);
    row('RSS range after warm-up (max − min), MB', rss.rxvoice?.steadyRangeMb, rss.djs?.steadyRangeMb, 1);
    row('RSS peak growth after warm-up (highest of the last third − of the first), MB', rss.rxvoice?.peakGrowthMb, rss.djs?.peakGrowthMb, 1);
  }
  if (dave) {
    if (dave.pending) {
      rows.push(`| DAVE on vs off: CPU per packet | ${dave.pending} | ${dave.pending} | — |`);
    } else {
      row(`DAVE off, N=${dave.rxvoice?.off?.n}: client CPU per packet, µs`, dave.rxvoice?.off?.cpuUsPerPacket, dave.djs?.off?.cpuUsPerPacket, 1);
      row(`DAVE on, N=${dave.rxvoice?.on?.n}: client CPU per packet, µs`, dave.rxvoice?.on?.cpuUsPerPacket, dave.djs?.on?.cpuUsPerPacket, 1);
      row('DAVE: extra CPU per packet, µs', dave.rxvoice?.extraUsPerPacket, dave.djs?.extraUsPerPacket, 1);
      row('DAVE on: connections with E2EE active / N', `${dave.rxvoice?.daveActive ?? '?'} / ${dave.rxvoice?.on?.n}`, `${dave.djs?.daveActive ?? '?'} / ${dave.djs?.on?.n}`);
      row('DAVE on: pacing p99, ms', dave.rxvoice?.on?.pacing?.p99, dave.djs?.on?.pacing?.p99);
    }
  }
  if (micro) {
    row('Micro: RTP header + AES-256-GCM seal, µs per packet', micro.sealUs?.rxvoice?.aes, micro.sealUs?.djs?.aes, 2);
    row('Micro: RTP header + XChaCha20-Poly1305 seal, µs per packet (djs on @noble/ciphers)', micro.sealUs?.rxvoice?.xchacha, micro.sealUs?.djs?.xchacha, 2);
    row('Micro: one UDP send to another process (loopback), CPU µs — the same call in both', micro.udpSendUs, micro.udpSendUs, 2);
    for (const t of (micro.tick as Json[] | undefined) ?? []) {
      row(`Micro: one clock tick with ${t.n} voiceSink listeners (AES, no-op UDP), µs`, t.usPerTick, null, 1);
    }
  }

  // Targets.
  const targets: TargetStatus[] = [];
  const cpuTarget = [100, 500].map((n) => {
    const a = pick(pRuns, 'rxvoice', n);
    const b = pick(pRuns, 'djs', n);
    return { n, r: a && b ? a.cpuMsPerStreamSec / b.cpuMsPerStreamSec : NaN };
  });
  targets.push({
    target: 'Passthrough CPU per stream ≤ 0.5× djs at N=100 and 500',
    met: cpuTarget.every((c) => Number.isFinite(c.r)) ? cpuTarget.every((c) => c.r <= 0.5) : null,
    detail: cpuTarget.map((c) => `N=${c.n}: ${Number.isFinite(c.r) ? c.r.toFixed(2) : '—'}×`).join(', '),
  });
  const a100 = pick(pRuns, 'rxvoice', 100);
  const worse = ns(pRuns).filter((n) => {
    const a = pick(pRuns, 'rxvoice', n);
    const b = pick(pRuns, 'djs', n);
    return a && b && a.pacing.p99 > b.pacing.p99;
  });
  targets.push({
    target: 'p99 pacing ≤ 2 ms at N=100, and never worse than djs at any N',
    met: a100 ? a100.pacing.p99 <= 2 && worse.length === 0 : null,
    detail: `N=100: ${fmt(a100?.pacing.p99)} ms; worse than djs at: ${worse.length ? worse.map((n) => `N=${n}`).join(', ') : 'none'}`,
  });
  if (scale) {
    const a = scale.rxvoice?.maxStreams as number | undefined;
    const b = scale.djs?.maxStreams as number | undefined;
    targets.push({
      target: 'Max streams per process (p99 ≤ 5 ms, zero loss) ≥ 2× djs',
      met: a !== undefined && b !== undefined ? a >= 2 * b : null,
      detail: `${a ?? '—'} vs ${b ?? '—'} (${ratio(a, b)}); rxvoice stopped: ${scale.rxvoice?.stopReason ?? '—'}; djs stopped: ${scale.djs?.stopReason ?? '—'}`,
    });
  }
  if (tRuns.length) {
    const rs = ns(tRuns).map((n) => {
      const a = pick(tRuns, 'rxvoice', n);
      const b = pick(tRuns, 'djs', n);
      return { n, r: a && b ? a.totalCpuMsPerStreamSec / b.totalCpuMsPerStreamSec : NaN };
    });
    targets.push({
      target: 'Transcode CPU per stream (incl. ffmpeg) ≤ 1.0× djs',
      met: rs.every((c) => Number.isFinite(c.r)) ? rs.every((c) => c.r <= 1) : null,
      detail: rs.map((c) => `N=${c.n}: ${Number.isFinite(c.r) ? c.r.toFixed(2) : '—'}×`).join(', '),
    });
  }
  if (filters?.fullChain) {
    const us = filters.fullChain.usPerFrame as number;
    targets.push({
      target: 'Filters: Lavalink\'s full chain (all ten on, timescale included) ≤ 300 µs per 20 ms frame',
      met: us <= 300,
      detail: `${fmt(us, 1)} µs per frame (${fmt((us / 20000) * 100, 2)} % of real time per stream); ${fmt(filters.fullChain.withoutTimescaleUsPerFrame, 1)} µs without timescale`,
    });
  }
  const llOverhead = ((lavalink?.overhead as Json[] | undefined) ?? []).filter((o) => Number.isFinite(o.inclFfmpeg));
  if (llOverhead.length) {
    // Judged at the N where both keep real time (a saturated machine says nothing about overhead).
    const realTime = llOverhead.filter((o) => o.bothRealTime);
    const pct = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %` : '—');
    targets.push({
      target: 'Lavalink node: CPU per player ≤ 1.10× the library’s (incl. ffmpeg, at an N where both keep real time)',
      met: realTime.length ? realTime.every((o) => o.inclFfmpeg <= 0.1) : null,
      detail: llOverhead
        .map(
          (o) =>
            `N=${o.n}${o.repeats > 1 ? ` (${o.repeats} runs each)` : ''}: ${pct(o.inclFfmpeg)} incl. ffmpeg, ${pct(o.processOnly)} process only` +
            `${((o.perPair as Json[] | undefined) ?? []).length > 1 ? ` (pairs: ${(o.perPair as Json[]).map((p) => pct(p.inclFfmpeg)).join(', ')})` : ''}${o.bothRealTime ? '' : ' (not both real time: not judged)'}`,
        )
        .join('; '),
    });
  }
  if (rss?.rxvoice) {
    const g = rss.rxvoice.extrapolatedHourGrowthMb as number;
    const range = rss.rxvoice.steadyRangeMb as number;
    targets.push({
      target: 'RSS flat within 20 MB (1 h input alongside 100 others)',
      met: Math.max(g, range) <= 20,
      detail: `peak growth ${fmt(rss.rxvoice.peakGrowthMb, 1)} MB; range after warm-up ${fmt(range, 1)} MB over ${Math.round((rss.rxvoice.playedMs as number) / 1000)} s; slope ${fmt(rss.rxvoice.rssMbPerMin, 3)} MB/min → ${fmt(g, 1)} MB per hour (linear extrapolation)`,
    });
  }

  const lines: string[] = [START, ''];
  if (env) {
    lines.push(
      `Measured ${String(env.date).slice(0, 16).replace('T', ' ')} UTC${env.smoke ? ' (smoke run: tiny N and clips, numbers meaningless)' : ''}: ` +
        `${env.cores} cores, ${env.cpu}, ${env.memoryGb} GB, Node ${env.node}, ${env.os}; load average at start ${JSON.stringify(env.load)}.`,
      `Versions: rxvoice ${env.rxvoice}, @discordjs/voice ${env.discordjsVoice}, libopus ${env.libopus}, ` +
        `@snazzah/davey ${env.davey}, prism-media ${env.prismMedia}, ffmpeg ${env.ffmpeg}.`,
      '',
    );
  }
  const driverNote = driverSummary(pRuns[0]?.driver as Json | undefined);
  if (driverNote) lines.push(driverNote, '');
  lines.push(...rows, '', '**Targets**', '', '| target | met | measured |', '|---|:-:|---|');
  for (const t of targets) lines.push(`| ${t.target} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} | ${t.detail} |`);
  if (busyRuns.length) {
    const cols = ['rxvoice-driver', 'rxvoice-threads0', 'djs'].map(busyOf);
    const cell = (f: (r: Json) => string): string => cols.map((r) => (r ? f(r) : '—')).join(' | ');
    const d = cols[0]?.driver as Json | undefined;
    const driverHead = !d ? 'rxvoice (driver)' : d.exported ? `rxvoice (driver, threads ${d.threads ?? '?'})` : 'rxvoice (default; driver not wired in yet: in-process)';
    lines.push(
      '',
      `**${busyTitle}**: passthrough, ${busy!.clipSeconds} s clips; a synchronous busy loop on a ${busy!.busy?.periodMs} ms \`setInterval\` in the client process while the streams play`,
      '',
      `| figure | ${driverHead} | rxvoice (threads 0) | @discordjs/voice |`,
      '|---|---:|---:|---:|',
      `| pacing p50 / p99 / max, ms | ${cell((r) => `${fmt(r.pacing.p50)} / ${fmt(r.pacing.p99)} / ${fmt(r.pacing.max)}`)} |`,
      `| worst stream's p99, ms | ${cell((r) => fmt(r.pacing.worstStreamP99))} |`,
      `| packets lost (gaps + missing) | ${cell((r) => fmt(r.lost + r.missingAudio, 0))} |`,
      `| streams finished / N | ${cell((r) => `${r.finished} / ${r.n}`)} |`,
      `| client CPU, % of a core (all threads, busy loop included) | ${cell((r) => fmt(r.clientCpuPctOfCore, 1))} |`,
      `| busy loop's own CPU, % of a core | ${cell((r) => fmt(r.busyLoopCpuPctOfCore, 1))} |`,
      `| client CPU per stream without the busy loop, ms per s of audio | ${cell((r) => fmt(r.cpuMsPerStreamSecExclBusy, 3))} |`,
      `| main thread blocked (wall time), share of the window | ${cell((r) => fmt(r.blockedFraction, 3))} |`,
    );
  }
  if (filters?.perFilter) {
    lines.push(
      '',
      `**Filters** (\`bench/filters.ts\`, measured ${String(filters.environment?.date ?? '').slice(0, 16).replace('T', ' ')} UTC, load average ${JSON.stringify(filters.environment?.load ?? null)}): CPU µs per 20 ms stereo frame (960 sample pairs), best of ${filters.environment?.smoke ? 2 : 7} rounds × 2 passes, each operator alone on 5 s of a music-like signal, conversions from and to s16le and the output \`Buffer\` included`,
      '',
      '| filter | settings | µs per frame | % of real time |',
      '|---|---|---:|---:|',
      ...(filters.perFilter as Json[]).map((f) => `| ${f.filter} | \`${String(f.settings).length > 60 ? `${String(f.settings).slice(0, 57)}…` : f.settings}\` | ${fmt(f.usPerFrame, 1)} | ${fmt((f.usPerFrame / 20000) * 100, 2)} |`),
      `| **full Lavalink chain** (\`filters()\`, all ten on) | see bench/filters.ts | **${fmt(filters.fullChain.usPerFrame, 1)}** | ${fmt((filters.fullChain.usPerFrame / 20000) * 100, 2)} |`,
      `| full chain without timescale | | ${fmt(filters.fullChain.withoutTimescaleUsPerFrame, 1)} | ${fmt((filters.fullChain.withoutTimescaleUsPerFrame / 20000) * 100, 2)} |`,
      `| full chain, a new config every frame (every stage crossfades) | | ${fmt(filters.fullChain.changingEveryFrameUsPerFrame, 1)} | ${fmt((filters.fullChain.changingEveryFrameUsPerFrame / 20000) * 100, 2)} |`,
    );
  }
  const llVariants = (lavalink?.variants as Json[] | undefined) ?? [];
  if (llVariants.length) {
    const llNs = [...new Set(llVariants.map((r) => r.n as number))].sort((a, b) => a - b);
    const cols = llNs.flatMap((n) => [llVariants.find((r) => r.variant === 'node' && r.n === n), llVariants.find((r) => r.variant === 'library' && r.n === n)]);
    const cell = (f: (r: Json) => string): string => cols.map((r) => (r ? f(r) : '—')).join(' | ');
    const over = (n: number): Json | undefined => ((lavalink!.overhead as Json[] | undefined) ?? []).find((o) => o.n === n);
    const pct = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %` : '—');
    const head = (v: string, n: number): string => {
      const k = llVariants.find((r) => r.variant === v && r.n === n)?.runs as number | undefined;
      return `${v} N=${n}${k && k > 1 ? ` (${k} runs)` : ''}`;
    };
    lines.push(
      '',
      `**Lavalink node vs the library** (j): N players on one rxvoice Lavalink node (own process, driven over its WebSocket and REST API) vs the same N streams through the library in one process; ` +
        `the same ${lavalink!.clipSeconds} s mp3 over http, ${(lavalink!.playMs as number) / 1000} s of it played per run, figures in the steady state (a window of ${((lavalink!.playMs as number) - (lavalink!.warmupMs as number) - (lavalink!.tailMs as number)) / 1000} s from start + ${(lavalink!.warmupMs as number) / 1000} s, or for the node 2 s after its last track started if later); ` +
        'CPU per player per second of audio; with 2 runs: CPU and frames the mean, pacing and RSS the worst, loss the sum',
      '',
      `| figure | ${llNs.map((n) => `${head('node', n)} | ${head('library', n)}`).join(' | ')} |`,
      `|---|${llNs.map(() => '---:|---:').join('|')}|`,
      `| keeps real time (p99 ≤ 5 ms, no loss, ≥ 99 % of the packets, nothing nulled, node deficit ≤ 1 %) | ${cell((r) => (r.keepsRealTime ? 'yes' : '**no**'))} |`,
      `| CPU per player, process (all threads), ms per s | ${cell((r) => fmt(r.cpuMsPerPlayerSec, 2))} |`,
      `| CPU per player incl. ffmpeg, ms per s | ${cell((r) => fmt(r.cpuInclFfmpegMsPerPlayerSec, 2))} |`,
      `| of which ffmpeg, ms per s | ${cell((r) => fmt(r.ffmpegCpuMsPerPlayerSec, 2))} |`,
      `| **node overhead** (node ÷ library − 1): incl. ffmpeg / process only | ${llNs.flatMap((n) => [`**${pct(over(n)?.inclFfmpeg)}** / ${pct(over(n)?.processOnly)}`, '']).join(' | ')} |`,
      `| pacing p50 / p99 / max, ms | ${cell((r) => `${fmt(r.pacing.p50)} / ${fmt(r.pacing.p99)} / ${fmt(r.pacing.max)}`)} |`,
      `| worst stream's p99, ms | ${cell((r) => fmt(r.pacing.worstStreamP99))} |`,
      `| packets lost (sequence gaps) | ${cell((r) => fmt(r.lost, 0))} |`,
      `| packets in the window ÷ expected | ${cell((r) => fmt(r.packetsInWindowRatio, 3))} |`,
      `| frames per player per minute: sent / nulled / deficit (node: its \`stats\` op's frameStats; library: stream counters) | ${cell((r) => (r.frames ? `${r.frames.sent} / ${r.frames.nulled} / ${r.frames.deficit}` : '—'))} |`,
      `| peak RSS, MB (without ffmpeg) | ${cell((r) => fmt(r.peakRssMb, 1))} |`,
      `| connected / started / N | ${cell((r) => `${r.connected} / ${r.started} / ${r.n}`)} |`,
      `| all started after (the N tracks at once → the last stream's first packet), s | ${cell((r) => (typeof r.allStartedMs === 'number' ? fmt(r.allStartedMs / 1000, 1) : '—'))} |`,
      `| emulator CPU, % of a core | ${cell((r) => fmt(r.emulatorCpuPct, 1))} |`,
    );
  }
  if (recording?.files) {
    const minutes = (recording.wallMs as number) / 60_000;
    const m = recording.memory as Json;
    lines.push(
      '',
      `**Long recording** (\`recordVoiceChannel\`, rxvoice only; measured ${String(recording.environment?.date ?? '').slice(0, 16).replace('T', ' ')} UTC): one connection records ${fmt(minutes, 1)} min of four simulated users ` +
        '(A 4 s on / 6 s off with RTP timestamps jumping over pauses, B 7 s on / 3 s off with timestamps frozen, C without a pause, D from half-way, 2 s on / 8 s off) into WAV tracks and a mix; ' +
        `wall clock = CLOCK_MONOTONIC from subscription to stop, ${fmt(recording.wallMs, 1)} ms`,
      '',
      '| file | audio, ms | audio − wall clock, ms | size, MB |',
      '|---|---:|---:|---:|',
      ...(recording.files as Json[]).map((f) => `| ${f.file} | ${fmt(f.audioMs, 1)} | ${fmt(f.minusWallMs, 1)} | ${fmt(f.mb, 1)} |`),
      '',
      `Every file within ${fmt(recording.allowedLengthErrorMs, 1)} ms of the wall clock (20 ms per hour): **${recording.lengthsWithinBound ? 'yes' : 'no'}** (worst ${fmt(recording.worstLengthErrorMs, 1)} ms).`,
      '',
      '| user | timestamps over pauses | spurts in recording.json / sent | tone onset − send time, first spurt, ms | the same, later spurts, ms (min … max) | drift of the later spurts\' offset, ms per hour | late packets | concealed frames |',
      '|---|---|---:|---:|---:|---:|---:|---:|',
      ...(recording.placement as Json[]).map(
        (p) =>
          `| ${p.user} | ${p.timestamps} | ${p.spurts} / ${p.expectedSpurts} | ${fmt(p.firstOnsetMs, 2)} | ${p.onsetMs ? `${fmt(p.onsetMs.min, 2)} … ${fmt(p.onsetMs.max, 2)}` : '—'} | ${fmt(p.driftMsPerHour, 2)} | ${fmt(p.latePackets, 0)} | ${fmt(p.concealedFrames, 0)} |`,
      ),
      '',
      'Onsets are found in the samples (the first sample above 5 % of full scale), well below the 20 ms slots. A later spurt follows Opus silence frames, after which libopus ramps the tone up ' +
        'over about two frames, so its onset shows ~40 ms after the first spurt\'s; that is the decoder, the same for every spurt, and drift is measured over the later spurts. ' +
        'The sender, the recorder and the wall clock share CLOCK_MONOTONIC: this measures the recorder (placement, slot counting) over the run; a sender clock off by ±100 ppm is simulated in test/sinks/recordingTimeline.test.ts.',
      '',
      `Memory once all four users talk (from ${fmt((recording.durationMs as number) / 2 / 60_000, 1)} min + settling; ${m.samples} samples, every ${recording.memoryEveryMs ?? 5000} ms), min–max and least-squares slope: ` +
        ['rss', 'heapUsed', 'external', 'arrayBuffers'].map((k) => `${k} ${fmt(m[k].min, 1)}–${fmt(m[k].max, 1)} MB (${fmt(m[k].mbPerMin, 3)} MB/min)`).join('; ') +
        `. Peak RSS ${fmt(recording.peakRssMb, 1)} MB; recorder CPU ${fmt(recording.cpuPctOfOneCore, 2)} % of a core.`,
    );
  }
  if (tScale) {
    const tried = (lib: string): string =>
      ((tScale[lib]?.tried as Json[] | undefined) ?? []).map((t) => `${t.n}: ${fmt(t.p99)} ms${t.lost + t.missing ? `, ${t.lost + t.missing} lost` : ''}${t.holds ? '' : ' ✗'}`).join('; ');
    lines.push(
      '',
      `**Max transcode streams** (p99 ≤ 5 ms, zero loss; N: pooled p99, ✗ failed): rxvoice ${tScale.rxvoice?.maxStreams ?? '—'} (${tScale.rxvoice?.stopReason ?? '—'}; ${tried('rxvoice')}), ` +
        `@discordjs/voice ${tScale.djs?.maxStreams ?? '—'} (${tScale.djs?.stopReason ?? '—'}; ${tried('djs')})`,
    );
  }
  if (profile) {
    for (const lib of ['rxvoice', 'djs']) {
      const p = profile[lib] as Json | undefined;
      if (!p) continue;
      lines.push(
        '',
        `**Profile: ${lib === 'djs' ? '@discordjs/voice' : 'rxvoice'} client, passthrough N=${p.n}** (\`node --cpu-prof\`, self time of the busy ${fmt(p.busyMs, 0)} ms, whole process life incl. start-up and connecting)`,
        '',
        '| self ms | % of busy | function |',
        '|---:|---:|---|',
        ...(p.top as Json[]).map((e) => `| ${fmt(e.selfMs, 1)} | ${fmt(e.selfPct, 1)} | \`${String(e.frame).replace(/\|/g, '\\|')}\` |`),
      );
    }
  }
  lines.push('', END);
  const section = lines.join('\n');

  let readme = fs.existsSync(readmePath) ? fs.readFileSync(readmePath, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  if (!readme.includes(START) || !readme.includes(END)) readme += `\n${START}\n${END}\n`;
  readme = readme.slice(0, readme.indexOf(START)) + section + readme.slice(readme.indexOf(END) + END.length);
  fs.mkdirSync(path.dirname(readmePath), { recursive: true });
  fs.writeFileSync(readmePath, readme);
  return { targets };
}
