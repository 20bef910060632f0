import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RxVoiceError } from '../../../src/errors';
import { loadLavalinkConfig } from '../../../src/server/lavalink/config';

/** Lavalink's stock LavalinkServer/application.yml.example (lavalink-devs/Lavalink), verbatim. */
const STOCK = `server: # REST and WS server
  port: 2333
  address: 0.0.0.0
  http2:
    enabled: false # Whether to enable HTTP/2 support
plugins:
#  name: # Name of the plugin
#    some_key: some_value # Some key-value pair for the plugin
#    another_key: another_value
lavalink:
  plugins:
#    - dependency: "com.github.example:example-plugin:1.0.0" # required, the coordinates of your plugin
#      repository: "https://maven.example.com/releases" # optional, defaults to the Lavalink releases repository by default
#      snapshot: false # optional, defaults to false, used to tell Lavalink to use the snapshot repository instead of the release repository
#  pluginsDir: "./plugins" # optional, defaults to "./plugins"
#  defaultPluginRepository: "https://maven.lavalink.dev/releases" # optional, defaults to the Lavalink release repository
#  defaultPluginSnapshotRepository: "https://maven.lavalink.dev/snapshots" # optional, defaults to the Lavalink snapshot repository
  server:
    password: "youshallnotpass"
    sources:
      # The default Youtube source is now deprecated and won't receive further updates. Please use https://github.com/lavalink-devs/youtube-source#plugin instead.
      youtube: false
      bandcamp: true
      soundcloud: true
      twitch: true
      vimeo: true
      nico: true
      http: true # warning: keeping HTTP enabled without a proxy configured could expose your server's IP address.
      local: false
    filters: # All filters are enabled by default
      volume: true
      equalizer: true
      karaoke: true
      timescale: true
      tremolo: true
      vibrato: true
      distortion: true
      rotation: true
      channelMix: true
      lowPass: true
    nonAllocatingFrameBuffer: false # Setting to true reduces the number of allocations made by each player at the expense of frame rebuilding (e.g. non-instantaneous volume changes)
    bufferDurationMs: 400 # The duration of the NAS buffer. Higher values fare better against longer GC pauses. Duration <= 0 to disable JDA-NAS. Minimum of 40ms, lower values may introduce pauses.
    frameBufferDurationMs: 5000 # How many milliseconds of audio to keep buffered
    opusEncodingQuality: 10 # Opus encoder quality. Valid values range from 0 to 10, where 10 is best quality but is the most expensive on the CPU.
    resamplingQuality: LOW # Quality of resampling operations. Valid values are LOW, MEDIUM and HIGH, where HIGH uses the most CPU.
    trackStuckThresholdMs: 10000 # The threshold for how long a track can be stuck. A track is stuck if does not return any audio data.
    useSeekGhosting: true # Seek ghosting is the effect where whilst a seek is in progress, the audio buffer is read from until empty, or until seek is ready.
    youtubePlaylistLoadLimit: 6 # Number of pages at 100 each
    playerUpdateInterval: 5 # How frequently to send player updates to clients, in seconds
    youtubeSearchEnabled: true
    soundcloudSearchEnabled: true
    soundcloudFilterOutPreviewTracks: false
    gc-warnings: true
    #ratelimit:
      #ipBlocks: ["1.0.0.0/8", "..."] # list of ip blocks
      #excludedIps: ["...", "..."] # ips which should be explicit excluded from usage by lavalink
      #strategy: "RotateOnBan" # RotateOnBan | LoadBalance | NanoSwitch | RotatingNanoSwitch
      #searchTriggersFail: true # Whether a search 429 should trigger marking the ip as failing
      #retryLimit: -1 # -1 = use default lavaplayer value | 0 = infinity | >0 = retry will happen this numbers times
    #youtubeConfig: # Required for avoiding all age restrictions by YouTube, some restricted videos still can be played without.
      #email: "" # Email of Google account
      #password: "" # Password of Google account
    #httpConfig: # Useful for blocking bad-actors from ip-grabbing your music node and attacking it, this way only the http proxy will be attacked
      #proxyHost: "localhost" # Hostname of the proxy, (ip or domain)
      #proxyPort: 3128 # Proxy port, 3128 is the default for squidProxy
      #proxyUser: "" # Optional user for basic authentication fields, leave blank if you don't use basic auth
      #proxyPassword: "" # Password for basic authentication
    timeouts:
      connectTimeoutMs: 3000
      connectionRequestTimeoutMs: 3000
      socketTimeoutMs: 3000

metrics:
  prometheus:
    enabled: false
    endpoint: /metrics

sentry:
  dsn: ""
  environment: ""
#  tags:
#    some_key: some_value
#    another_key: another_value

logging:
  file:
    path: ./logs/

  level:
    root: INFO
    lavalink: INFO

  request:
    enabled: true
    includeClientInfo: true
    includeHeaders: false
    includeQueryString: true
    includePayload: true
    maxPayloadLength: 10000
    beforeRequest: false

  logback:
    rollingpolicy:
      max-file-size: 1GB
      max-history: 30
`;

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
    expect(cfg.ignored).toEqual(expect.arrayContaining(['lavalink.server.bufferDurationMs', 'server.http2.enabled', 'lavalink.server.gcWarnings']));
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
