import { collectDependencyReport, generateDependencyReport } from '../src';

test('generateDependencyReport names every dependency, ffmpeg and the crypto path', () => {
  const r = collectDependencyReport();
  expect(r.rxvoice).toMatch(/^\d+\.\d+\.\d+/);
  expect(r.node).toBe(process.version);
  for (const v of Object.values(r.packages)) expect(v).toMatch(/^\d+\.\d+\.\d+/);
  expect(r.libopus).toMatch(/^\d+\.\d+/);
  expect(r.xchacha20).toBe(true);
  expect(r.daveProtocolVersion).toBeGreaterThanOrEqual(1);
  expect(r.preferredMode).toBe(r.xchacha20 ? 'aead_xchacha20_poly1305_rtpsize' : 'aead_aes256_gcm_rtpsize');

  const text = generateDependencyReport(r);
  for (const name of ['rxvoice', 'Node.js', 'rxjs', 'ws', '@discordjs/opus', 'libopus', 'sodium-native', 'XChaCha20-Poly1305', '@snazzah/davey', 'DAVE protocol version', 'AES-256-GCM', 'FFmpeg']) {
    expect(text).toContain(name);
  }
  if (r.ffmpeg.path !== null) expect(text).toContain(r.ffmpeg.path);
});

test('a missing ffmpeg is reported, not thrown', () => {
  const saved = process.env.FFMPEG_PATH;
  process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
  try {
    const r = collectDependencyReport();
    expect(r.ffmpeg.path).toBeNull();
    expect(generateDependencyReport(r)).toMatch(/FFmpeg\n- not found/);
  } finally {
    if (saved === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = saved;
  }
});
