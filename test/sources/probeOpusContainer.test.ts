import { readFileSync, writeFileSync } from 'node:fs';
import { probeOpusContainer } from '../../src/sources/internal/probeOpusContainer';
import { makeFixtures, pseudoRandomBytes, type Fixtures } from './helpers';

// audioSource's passthrough decision: Ogg/WebM Opus (and its channel count) from the file's first
// 64 KiB, read by our own framers; everything else is null (ffmpeg then transcodes or reports).
let fx: Fixtures;
beforeAll(() => {
  fx = makeFixtures(['tone.ogg', 'tone.webm', 'mono.ogg', 'vorbis.ogg', 'tone.mp3', 'copy.webm']);
}, 60_000);
afterAll(() => fx.remove());

test('Ogg Opus and WebM Opus: the container and the OpusHead channel count', async () => {
  await expect(probeOpusContainer(fx.path('tone.ogg'))).resolves.toEqual({ container: 'ogg', channels: 2 });
  await expect(probeOpusContainer(fx.path('mono.ogg'))).resolves.toEqual({ container: 'ogg', channels: 1 });
  await expect(probeOpusContainer(fx.path('tone.webm'))).resolves.toEqual({ container: 'webm', channels: 2 });
  await expect(probeOpusContainer(fx.path('copy.webm'))).resolves.toEqual({ container: 'webm', channels: 2 });
});

test('not Opus, not a file, or damaged: null, never a rejection', async () => {
  await expect(probeOpusContainer(fx.path('vorbis.ogg'))).resolves.toBeNull(); // Ogg, but no OpusHead
  await expect(probeOpusContainer(fx.path('tone.mp3'))).resolves.toBeNull();
  await expect(probeOpusContainer(fx.path('missing.ogg'))).resolves.toBeNull();
  await expect(probeOpusContainer(fx.dir)).resolves.toBeNull(); // a directory
  await expect(probeOpusContainer('https://example.com/a.ogg')).resolves.toBeNull();

  const ogg = readFileSync(fx.path('tone.ogg'));
  const webm = readFileSync(fx.path('tone.webm'));
  const cases: Array<[string, Buffer]> = [
    ['empty.ogg', Buffer.alloc(0)],
    ['magic-only.ogg', ogg.subarray(0, 4)],
    ['cut-in-head.ogg', ogg.subarray(0, 40)], // the first page is incomplete
    ['garbage-after-magic.ogg', Buffer.concat([ogg.subarray(0, 4), pseudoRandomBytes(5000, 7)])],
    ['magic-only.webm', webm.subarray(0, 4)],
    ['garbage-after-magic.webm', Buffer.concat([webm.subarray(0, 4), pseudoRandomBytes(5000, 8)])],
  ];
  for (const [name, bytes] of cases) {
    writeFileSync(fx.path(name), bytes);
    await expect(probeOpusContainer(fx.path(name))).resolves.toBeNull();
  }
});

test('random bytes behind either magic never reject (200 cases)', async () => {
  const magics = [Buffer.from('OggS', 'latin1'), Buffer.from([0x1a, 0x45, 0xdf, 0xa3])];
  for (let i = 0; i < 200; i++) {
    const name = `fuzz-${i}.bin`;
    writeFileSync(fx.path(name), Buffer.concat([magics[i % 2], pseudoRandomBytes(1 + ((i * 7919) % 3000), 1000 + i)]));
    const info = await probeOpusContainer(fx.path(name));
    if (info !== null) expect(info.channels).toBeGreaterThanOrEqual(0);
  }
});
