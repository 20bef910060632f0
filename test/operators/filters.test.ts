import { BehaviorSubject, from, Subject, toArray } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { filters, LAVALINK_FILTER_ORDER, type FiltersConfig } from '../../src/operators/filters';
import { frameMediaMs } from '../../src/core/mediaTime';
import { InvalidFilterError } from '../../src/operators/InvalidFilterError';
import { amplitudeAt, centerTone, channel, db, maxStep, run, silence, sine, slice, stereo } from './filterFixtures';

/**
 * Lavalink v4's filter objects from its documentation: docs/api/rest.md "Filters" (Example
 * Payload, with `pluginFilters`), docs/api/Insomnia.json's update-player body (the same
 * without `pluginFilters`; also protocol/src/commonTest FiltersTest.kt), and the empty object
 * that clears every filter (Update Player: "This will override all previously applied filters").
 */
const REST_MD_EXAMPLE = JSON.parse(`{
  "volume": 1.0,
  "equalizer": [
    {
      "band": 0,
      "gain": 0.2
    }
  ],
  "karaoke": {
    "level": 1.0,
    "monoLevel": 1.0,
    "filterBand": 220.0,
    "filterWidth": 100.0
  },
  "timescale": {
    "speed": 1.0,
    "pitch": 1.0,
    "rate": 1.0
  },
  "tremolo": {
    "frequency": 2.0,
    "depth": 0.5
  },
  "vibrato": {
    "frequency": 2.0,
    "depth": 0.5
  },
  "rotation": {
    "rotationHz": 0
  },
  "distortion": {
    "sinOffset": 0.0,
    "sinScale": 1.0,
    "cosOffset": 0.0,
    "cosScale": 1.0,
    "tanOffset": 0.0,
    "tanScale": 1.0,
    "offset": 0.0,
    "scale": 1.0
  },
  "channelMix": {
    "leftToLeft": 1.0,
    "leftToRight": 0.0,
    "rightToLeft": 0.0,
    "rightToRight": 1.0
  },
  "lowPass": {
    "smoothing": 20.0
  },
  "pluginFilters": {
    "myPlugin": {
      "myPluginKey": "myPluginValue"
    }
  }
}`) as FiltersConfig;

const INSOMNIA_EXAMPLE = JSON.parse(
  '{\n\t\t"volume": 1.0,\n\t\t"equalizer": [\n\t\t\t{\n\t\t\t\t"band": 0,\n\t\t\t\t"gain": 0.2\n\t\t\t}\n\t\t],\n\t\t"karaoke": {\n\t\t\t"level": 1.0,\n\t\t\t"monoLevel": 1.0,\n\t\t\t"filterBand": 220.0,\n\t\t\t"filterWidth": 100.0\n\t\t},\n\t\t"timescale": {\n\t\t\t"speed": 1.0,\n\t\t\t"pitch": 1.0,\n\t\t\t"rate": 1.0\n\t\t},\n\t\t"tremolo": {\n\t\t\t"frequency": 2.0,\n\t\t\t"depth": 0.5\n\t\t},\n\t\t"vibrato": {\n\t\t\t"frequency": 2.0,\n\t\t\t"depth": 0.5\n\t\t},\n\t\t"rotation": {\n\t\t\t"rotationHz": 0\n\t\t},\n\t\t"distortion": {\n\t\t\t"sinOffset": 0.0,\n\t\t\t"sinScale": 1.0,\n\t\t\t"cosOffset": 0.0,\n\t\t\t"cosScale": 1.0,\n\t\t\t"tanOffset": 0.0,\n\t\t\t"tanScale": 1.0,\n\t\t\t"offset": 0.0,\n\t\t\t"scale": 1.0\n\t\t},\n\t\t"channelMix": {\n\t\t\t"leftToLeft": 1.0,\n\t\t\t"leftToRight": 0.0,\n\t\t\t"rightToLeft": 0.0,\n\t\t\t"rightToRight": 1.0\n\t\t},\n\t\t"lowPass": {\n\t\t\t"smoothing": 20.0\n\t\t}\n\t}',
) as FiltersConfig;

/** What Lavalink clients send for their presets (lavalink-client's FilterManager, Shoukaku users). */
const CLIENT_PRESETS: Record<string, FiltersConfig> = {
  nightcore: { timescale: { speed: 1.289999523162842, pitch: 1.289999523162842, rate: 0.9365999523162842 } },
  vaporwave: { equalizer: [{ band: 1, gain: 0.3 }, { band: 0, gain: 0.3 }], timescale: { pitch: 0.5 }, tremolo: { depth: 0.3, frequency: 14 } },
  '8d': { rotation: { rotationHz: 0.2 } },
  karaoke: { karaoke: { level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 } },
  bassboost: { equalizer: [0.2, 0.15, 0.1, 0.05, 0, -0.05, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1, -0.1].map((gain, band) => ({ band, gain })) },
  mono: { channelMix: { leftToLeft: 0.5, leftToRight: 0.5, rightToLeft: 0.5, rightToRight: 0.5 } },
  lowPass: { lowPass: { smoothing: 20 } },
  volume: { volume: 0.5 },
  reset: { lowPass: null, karaoke: null, timescale: null, tremolo: null, vibrato: null, rotation: null, distortion: null, channelMix: null, equalizer: [] },
};

describe('filters: Lavalink v4 filter objects', () => {
  it.each([
    ['docs/api/rest.md "Filters" example payload', REST_MD_EXAMPLE],
    ['docs/api/Insomnia.json / FiltersTest.kt payload', INSOMNIA_EXAMPLE],
    ['empty object (clears all)', {}],
    ...Object.entries(CLIENT_PRESETS).map(([name, c]) => [`client preset ${name}`, c] as [string, FiltersConfig]),
  ])('accepts %s, as a value and through an observable', async (_name, config) => {
    const tone = await centerTone(440, 200, 0.3);
    const out = await run(tone, filters(config));
    expect(out.length % PCM_FRAME_BYTES).toBe(0);
    const errors: InvalidFilterError[] = [];
    const live = await run(tone, filters(new BehaviorSubject(config), { onError: (e) => errors.push(e) }));
    expect(errors).toEqual([]);
    expect(live.length % PCM_FRAME_BYTES).toBe(0);
  });

  it('the docs example runs lowPass, karaoke, tremolo, vibrato and the band-0 boost (and nothing else)', async () => {
    // Lavalink "disables" rotation 0, default distortion, default channelMix, volume 1 and timescale 1.
    const tone = await centerTone(440, 400, 0.3);
    const out = await run(tone, filters(REST_MD_EXAMPLE));
    // The centred tone is mostly removed by karaoke and cut by lowPass: far quieter than the input.
    expect(db(amplitudeAt(slice(out, 100), 440) / amplitudeAt(slice(Buffer.concat(tone), 100), 440))).toBeLessThan(-10);
  });

  it('an empty config and all-neutral filters pass the very frames through', async () => {
    const tone = await centerTone(440, 60);
    for (const config of [{}, { volume: 1, rotation: { rotationHz: 0 }, lowPass: { smoothing: 1 }, timescale: { speed: 1 } }]) {
      const out = await new Promise<Buffer[]>((resolve) => from(tone).pipe(filters(config), toArray()).subscribe(resolve));
      out.forEach((frame, i) => expect(frame).toBe(tone[i]));
    }
  });

  it('applies the chain in Lavalink’s order: channelMix before rotation, rotation after distortion …', async () => {
    expect(LAVALINK_FILTER_ORDER).toEqual(['lowPass', 'channelMix', 'rotation', 'distortion', 'vibrato', 'tremolo', 'timescale', 'karaoke', 'equalizer', 'volume']);
    // A left-only tone, copied to the right by channelMix, then rotated: the two sides differ.
    // (Rotation first would leave the right channel a copy of the rotated left.)
    const input = stereo(2600, sine(500, 0.4), silence);
    const out = await run(input, filters({ channelMix: { leftToLeft: 1, leftToRight: 1, rightToLeft: 0, rightToRight: 0 }, rotation: { rotationHz: 0.2 } }));
    const at = (ms: number, ch: 0 | 1) => amplitudeAt(slice(out, ms - 100, ms + 100), 500, ch);
    expect(at(1250, 0)).toBeGreaterThan(10 * at(1250, 1)); // left's turn
    // Volume comes last, after the equalizer's clipping: volume 0.5 on a boosted full-scale tone
    // gives the clipped level × Lavalink's gain tan(0.395).
    const loud = await centerTone(1000, 300, 0.9);
    const boosted = await run(loud, filters({ equalizer: [{ band: 8, gain: 0.25 }], volume: 0.5 }));
    const peak = Math.max(...Array.from(channel(slice(boosted, 100), 0), Math.abs));
    expect(Math.abs(peak / 32768 - Math.tan(0.5 * 0.79))).toBeLessThan(0.01);
  });

  it('with timescale, the frames after it keep their source-timeline position (for the sink)', async () => {
    const tone = await centerTone(440, 2000, 0.3);
    const out = await new Promise<Buffer[]>((resolve) =>
      from(tone).pipe(filters({ timescale: { speed: 1.25 }, equalizer: [{ band: 5, gain: 0.2 }], volume: 0.8 }), toArray()).subscribe(resolve),
    );
    // 1.25× speed: about 1600 ms of output, each frame 25 ms further into the source.
    expect(Math.abs(out.length * 20 - 1600)).toBeLessThanOrEqual(100);
    const ms = out.map((f) => frameMediaMs(f));
    expect(ms.every((m) => typeof m === 'number')).toBe(true);
    const mid = Math.floor(out.length / 2);
    expect(ms[mid + 10]! - ms[mid]!).toBeCloseTo(250, -1);
  });

  it('maps Lavalink’s volume through its curve (0.5 → ×0.417, 2 → ×3.28)', async () => {
    const tone = await centerTone(440, 100, 0.1);
    const ratio = async (volume: number) => amplitudeAt(await run(tone, filters({ volume })), 440) / amplitudeAt(Buffer.concat(tone), 440);
    expect(await ratio(0.5)).toBeCloseTo(Math.tan(0.395), 3);
    expect(await ratio(2)).toBeCloseTo(3.2816, 3);
  });

  it('throws InvalidFilterError naming the field for an invalid plain config', () => {
    expect(() => filters({ equalizer: [{ band: 0, gain: 0 }, { band: 1, gain: 0 }, { band: 2, gain: 0 }, { band: 3, gain: 1.5 }] })).toThrow(
      expect.objectContaining({ code: 'INVALID_FILTER', field: 'equalizer[3].gain' }),
    );
    expect(() => filters({ volume: 6 })).toThrow(expect.objectContaining({ field: 'volume' }));
    expect(() => filters({ timescale: { speed: 0 } })).toThrow(expect.objectContaining({ field: 'timescale.speed' }));
    expect(() => filters({ tremolo: { depth: 2 } })).toThrow(expect.objectContaining({ field: 'tremolo.depth' }));
    expect(() => filters({ pluginFilters: 3 } as unknown as FiltersConfig)).toThrow(expect.objectContaining({ field: 'pluginFilters' }));
    expect(() => filters(null as unknown as FiltersConfig)).toThrow(expect.objectContaining({ field: 'filters' }));
  });

  it('an invalid config from the observable is reported with the field named, and the previous config keeps playing', async () => {
    const config$ = new Subject<FiltersConfig>();
    const input = new Subject<Buffer>();
    const errors: InvalidFilterError[] = [];
    const out: Buffer[] = [];
    let completed = false;
    input.pipe(filters(config$, { onError: (e) => errors.push(e) })).subscribe({ next: (f) => out.push(f), complete: () => (completed = true) });
    const tone = await centerTone(1000, 1000, 0.2);
    config$.next({ equalizer: [{ band: 8, gain: 0.25 }] }); // 1 kHz doubled
    tone.slice(0, 20).forEach((f) => input.next(f));
    config$.next({ equalizer: [{ band: 8, gain: 0.25 }, { band: 1, gain: 0 }, { band: 2, gain: 0 }, { band: 3, gain: -1 }], rotation: { rotationHz: 0.2 } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(InvalidFilterError);
    expect(errors[0]).toMatchObject({ code: 'INVALID_FILTER', field: 'equalizer[3].gain', value: -1 });
    expect(errors[0].message).toMatch(/equalizer\[3\]\.gain/);
    tone.slice(20).forEach((f) => input.next(f));
    input.complete();
    expect(completed).toBe(true);
    // Still doubled, and the rotation of the rejected config never applied (both channels equal).
    const later = Buffer.concat(out.slice(25));
    expect(amplitudeAt(later, 1000) / amplitudeAt(Buffer.concat(tone.slice(25)), 1000)).toBeCloseTo(2, 2);
    expect(Buffer.from(channel(later, 0).buffer).equals(Buffer.from(channel(later, 1).buffer))).toBe(true);
  });

  it('without onError, an invalid config becomes a process warning and the stream goes on', async () => {
    const emitWarning = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const config$ = new BehaviorSubject<FiltersConfig>({ vibrato: { frequency: 20 } });
      const out = await run(await centerTone(440, 100), filters(config$));
      expect(out.length).toBe(5 * PCM_FRAME_BYTES);
      expect(emitWarning).toHaveBeenCalledWith(expect.stringMatching(/vibrato\.frequency/), expect.objectContaining({ type: 'InvalidFilterError', code: 'INVALID_FILTER' }));
    } finally {
      emitWarning.mockRestore();
    }
  });

  it('live change: switching configs during playback makes no step larger than the signal has itself', async () => {
    const tone = await centerTone(997, 2000, 0.25);
    const toneSteps = maxStep(channel(Buffer.concat(tone), 0));
    const configs: FiltersConfig[] = [
      {},
      { equalizer: [{ band: 8, gain: -0.25 }] },
      { tremolo: { frequency: 4, depth: 0.8 }, lowPass: { smoothing: 10 } },
      { karaoke: {}, rotation: { rotationHz: 0.5 } },
      { vibrato: { frequency: 6, depth: 1 }, channelMix: { leftToLeft: 0.5, leftToRight: 0.5, rightToLeft: 0.5, rightToRight: 0.5 } },
      { volume: 0.3, distortion: { sinScale: 0.5, cosScale: 0.5, tanScale: 0.5, scale: 2 } },
      {},
    ];
    // Config k is sent before frame 12·k; `play(last)` plays the tone sending configs 0 … last only.
    const play = (last: number): Buffer => {
      const config$ = new Subject<FiltersConfig>();
      const input = new Subject<Buffer>();
      const out: Buffer[] = [];
      input.pipe(filters(config$)).subscribe((f) => out.push(f));
      tone.forEach((f, i) => {
        if (i % 12 === 0 && i / 12 <= last) config$.next(configs[i / 12]);
        input.next(f);
      });
      return Buffer.concat(out);
    };
    const all = play(configs.length - 1);
    const clicks: string[] = [];
    for (const ch of [0, 1] as const) {
      const samples = channel(all, ch);
      const stepsIn = (x: Int16Array, frame: number) => maxStep(x, frame * 960, (frame + 1) * 960 + 1);
      for (let k = 1; k < configs.length; k++) {
        const at = 12 * k;
        // The signal's own steps at the change: what the old config alone makes of that frame
        // (the same run without this change), and the new one once in force (the next two frames).
        const old = channel(play(k - 1), ch);
        const own = Math.max(stepsIn(old, at), stepsIn(samples, at + 1), stepsIn(samples, at + 2));
        const step = stepsIn(samples, at);
        if (step > own + 1) clicks.push(`change ${k}, channel ${ch}: step ${step} > own ${own}`);
      }
      // None of these configs raises the level, so nothing steps beyond the input tone's own either
      // (vibrato at 6 Hz, depth 1 raises the pitch by up to 96·π·6/48000 = 3.8 %, hence the margin).
      expect(maxStep(samples)).toBeLessThanOrEqual(toneSteps * 1.04);
    }
    expect(clicks).toEqual([]);
  });
});
