import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RxVoiceError } from '../../../src/errors';
import { loadLavalinkConfig } from '../../../src/server/lavalink/config';

/** Lavalink's stock LavalinkServer/application.yml.example (lavalink-devs/Lavalink), verbatim. */
const STOCK = readFileSync(join(__dirname, 'application.yml.example'), 'utf8');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxvoice-lavalink-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadLavalinkConfig', () => {
  it('reads the stock application.yml from the working directory', () => {
    writeFileSync(join(dir, 'application.yml'), STOCK);
    const cfg = loadLavalinkConfig({ cwd: dir, env: {} });
    expect(cfg.file).toBe(join(dir, 'application.yml'));
    expect(cfg.port).toBe(2333);
    expect(cfg.address).toBe('0.0.0.0');
    expect(cfg.password).toBe('youshallnotpass');
    expect(cfg.sources).toEqual({ youtube: false, bandcamp: true, soundcloud: true, twitch: true, vimeo: true, nico: true, http: true, local: false });
    expect(Object.values(cfg.filters).every((on) => on)).toBe(true);
    expect(Object.keys(cfg.filters).sort()).toEqual(
      ['channelMix', 'distortion', 'equalizer', 'karaoke', 'lowPass', 'rotation', 'timescale', 'tremolo', 'vibrato', 'volume'],
    );
    expect(cfg.playerUpdateIntervalMs).toBe(5000);
    expect(cfg.trackStuckThresholdMs).toBe(10000);
    expect(cfg.opusEncodingQuality).toBe(10);
    expect(cfg.connectTimeoutMs).toBe(3000);
    expect(cfg.socketTimeoutMs).toBe(3000);
    expect(cfg.resumeTimeoutSeconds).toBe(60);
    expect(cfg.metricsEnabled).toBe(false);
    expect(cfg.metricsEndpoint).toBe('/metrics');
    expect(cfg.ignored).toEqual(expect.arrayContaining(['lavalink.server.bufferDurationMs', 'server.http2.enabled', 'lavalink.server.gcWarnings', 'logging', 'sentry']));
  });

  it('uses the defaults without a file', () => {
    const cfg = loadLavalinkConfig({ cwd: dir, env: {} });
    expect(cfg.file).toBeNull();
    expect(cfg).toMatchObject({ port: 2333, address: '0.0.0.0', password: 'youshallnotpass', playerUpdateIntervalMs: 5000, ignored: [] });
    expect(cfg.sources.http).toBe(true);
    expect(cfg.sources.local).toBe(false);
  });

  it('reads a given file, relaxed keys, and filters switched off', () => {
    const file = join(dir, 'my.yml');
    writeFileSync(
      file,
      [
        'server:',
        '  port: 4000',
        '  address: 127.0.0.1',
        'lavalink:',
        '  server:',
        '    password: 12345',
        '    player-update-interval: 2',
        '    sources:',
        '      local: true',
        '      http: false',
        '    filters:',
        '      timescale: false',
        '      channel-mix: false',
        '',
      ].join('\n'),
    );
    const cfg = loadLavalinkConfig({ file: 'my.yml', cwd: dir, env: {} });
    expect(cfg.file).toBe(file);
    expect(cfg.port).toBe(4000);
    expect(cfg.address).toBe('127.0.0.1');
    expect(cfg.password).toBe('12345');
    expect(cfg.playerUpdateIntervalMs).toBe(2000);
    expect(cfg.sources.local).toBe(true);
    expect(cfg.sources.http).toBe(false);
    expect(cfg.filters.timescale).toBe(false);
    expect(cfg.filters.channelMix).toBe(false);
    expect(cfg.filters.volume).toBe(true);
  });

  it('prefers config/application.yml, as Spring Boot does', () => {
    writeFileSync(join(dir, 'application.yml'), 'server:\n  port: 1111\n');
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'application.yml'), 'server:\n  port: 2222\n');
    expect(loadLavalinkConfig({ cwd: dir, env: {} }).port).toBe(2222);
  });

  it('lets the environment and then the overrides win', () => {
    writeFileSync(join(dir, 'application.yml'), STOCK);
    const env = { SERVER_PORT: '3000', LAVALINK_SERVER_PASSWORD: 'env-pass', LAVALINK_SERVER_SOURCES_LOCAL: 'true', LAVALINK_SERVER_FILTERS_LOW_PASS: 'false' };
    const cfg = loadLavalinkConfig({ cwd: dir, env });
    expect(cfg).toMatchObject({ port: 3000, password: 'env-pass' });
    expect(cfg.sources.local).toBe(true);
    expect(cfg.filters.lowPass).toBe(false);
    const over = loadLavalinkConfig({ cwd: dir, env, overrides: { port: 0, sources: { http: false }, filters: { karaoke: false } } });
    expect(over.port).toBe(0);
    expect(over.password).toBe('env-pass');
    expect(over.sources).toMatchObject({ http: false, local: true });
    expect(over.filters).toMatchObject({ karaoke: false, lowPass: false, volume: true });
  });

  it('names the file on invalid YAML', () => {
    const file = join(dir, 'application.yml');
    writeFileSync(file, 'server:\n  port: [2333\nlavalink: {\n');
    let caught: unknown;
    try {
      loadLavalinkConfig({ cwd: dir, env: {} });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RxVoiceError);
    expect((caught as RxVoiceError).code).toBe('BAD_CONFIG');
    expect((caught as Error).message).toContain(file);
  });

  it.each([
    ['a port that is not a number', 'server:\n  port: lots\n', 'server.port'],
    ['a port out of range', 'server:\n  port: 70000\n', 'server.port'],
    ['a source that is not a boolean', 'lavalink:\n  server:\n    sources:\n      http: maybe\n', 'lavalink.server.sources.http'],
    ['a YAML list at the top', '- a\n- b\n', 'not a YAML mapping'],
  ])('refuses %s with BAD_CONFIG naming the key and file', (_name, text, what) => {
    const file = join(dir, 'application.yml');
    writeFileSync(file, text);
    expect(() => loadLavalinkConfig({ cwd: dir, env: {} })).toThrow(expect.objectContaining({ code: 'BAD_CONFIG', message: expect.stringContaining(what) }));
    expect(() => loadLavalinkConfig({ cwd: dir, env: {} })).toThrow(expect.objectContaining({ message: expect.stringContaining(file) }));
  });

  it('refuses a --config file that does not exist, naming it', () => {
    expect(() => loadLavalinkConfig({ cwd: dir, file: 'nope.yml', env: {} })).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG', message: expect.stringContaining(join(dir, 'nope.yml')) }),
    );
  });

  it('refuses a bad environment variable, naming it', () => {
    expect(() => loadLavalinkConfig({ cwd: dir, env: { SERVER_PORT: 'x' } })).toThrow(
      expect.objectContaining({ code: 'BAD_CONFIG', message: expect.stringContaining('SERVER_PORT') }),
    );
  });
});
