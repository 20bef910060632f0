import * as path from 'node:path';
import { parseCliArgs } from '../../src/cli/args';
import { CliError } from '../../src/cli/CliError';
import { formatTime, parseTimeMs } from '../../src/cli/time';

const FILE = path.resolve(__dirname, '../../package.json'); // any existing file
const base = ['--guild', '1', '--channel', '2'];

function error(argv: string[], env: NodeJS.ProcessEnv = { DISCORD_TOKEN: 'tok-123456' }): CliError {
  try {
    parseCliArgs(argv, env);
  } catch (err) {
    if (err instanceof CliError) return err;
    throw err;
  }
  throw new Error('expected a CliError');
}

test('times: seconds, units, clock forms; formatting', () => {
  expect(parseTimeMs('90')).toBe(90_000);
  expect(parseTimeMs('1.5s')).toBe(1500);
  expect(parseTimeMs('500ms')).toBe(500);
  expect(parseTimeMs('2m')).toBe(120_000);
  expect(parseTimeMs('1:30')).toBe(90_000);
  expect(parseTimeMs('1:02:03.5')).toBe(3_723_500);
  for (const bad of ['', 'x', '1:75', '-3', '1:2:3:4']) expect(parseTimeMs(bad)).toBeNull();
  expect(formatTime(90_000)).toBe('1:30.0');
  expect(formatTime(3_723_500)).toBe('1:02:03.5');
});

test('play and record parse; the token comes from the flag or DISCORD_TOKEN', () => {
  expect(parseCliArgs(['play', ...base, FILE, '--volume', '0.8', '--seek', '1:30', '--filter', 'bass=g=5'], { DISCORD_TOKEN: 'env-token' })).toMatchObject({
    command: 'play',
    token: 'env-token',
    guildId: '1',
    channelId: '2',
    inputs: [FILE],
    volume: 0.8,
    seekMs: 90_000,
    filter: 'bass=g=5',
    dave: true,
  });
  expect(parseCliArgs(['record', '--token', 'flag-token', ...base, '--format', 'ogg', '--duration', '60s', '--no-dave'], {})).toMatchObject({
    command: 'record',
    token: 'flag-token',
    format: 'ogg',
    durationMs: 60_000,
    outDir: 'recordings',
    dave: false,
  });
  expect(parseCliArgs(['play', ...base, 'https://example.com/a.mp3'], { DISCORD_TOKEN: 't' })).toMatchObject({ inputs: ['https://example.com/a.mp3'] });
  expect(parseCliArgs([], {})).toEqual({ command: 'help', topic: null });
});

test('bad arguments are BAD_ARGUMENTS (exit 2) and never echo the token', () => {
  expect(error(['play', ...base, FILE], {}).message).toMatch(/no bot token/);
  expect(error(['play', '--channel', '2', FILE]).message).toMatch(/--guild ID is required/);
  expect(error(['play', ...base, FILE, '--format', 'ogg']).message).toMatch(/--format is not an option of play/);
  expect(error(['record', ...base, '--format', 'mp3']).message).toMatch(/wav, flac or ogg/);
  expect(error(['play', ...base, FILE, '--volume', 'loud']).message).toMatch(/--volume/);
  expect(error(['play', ...base, FILE, '--seek', 'soon']).message).toMatch(/--seek/);
  expect(error(['dance', ...base]).message).toMatch(/unknown command/);
  expect(error(['play', ...base, FILE, '--nope']).exitStatus).toBe(2);
  expect(error(['play', ...base, '/no/such/file.mp3']).code).toBe('INPUT_FAILED');
  expect(error(['play', ...base, '/no/such/a.mp3', '/no/such/b.mp3']).message).toBe('no such file: /no/such/a.mp3; no such file: /no/such/b.mp3');
  // In a queue with something playable, a missing file is left to the player (reported and skipped).
  expect(parseCliArgs(['play', ...base, FILE, '/no/such/file.mp3'], { DISCORD_TOKEN: 't' })).toMatchObject({ inputs: [FILE, '/no/such/file.mp3'] });
  // Without a token, a mistake in the other arguments is still named first.
  expect(error(['play', '--guild', '1', FILE], {}).message).toMatch(/--channel ID is required/);
  expect(error(['record', ...base, '--format', 'mp3'], {}).message).toMatch(/wav, flac or ogg/);
  expect(error(['dance'], {}).message).toMatch(/use play, record, report, emulator or node/);
  const leaked = error(['play', '--token', 'super-secret-token', '--guild', 'x', '--channel', '2', FILE], {});
  expect(leaked.message).not.toContain('super-secret-token');
});
