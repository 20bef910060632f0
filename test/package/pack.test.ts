/**
 * The package as users install it: packed from a clean copy of the sources (no dist/:
 * `prepack` builds), installed into fresh CommonJS and ESM projects offline, then loaded
 * and type-checked the way users do.
 *
 * Offline: npm has the tarballs in its cache but not the registry's package documents, so
 * each project gets a package-lock.json taken from this repository's (the same versions
 * `npm ci` installs here) and npm installs from it with `--offline`. Install scripts are
 * skipped (`--ignore-scripts`); the only native addon that needs one, @discordjs/opus, gets
 * the binary this repository built.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
/** The emulator's optional peer dependencies (package.json `peerDependenciesMeta`). */
const EMULATOR_PEERS = ['ts-mls', '@noble/curves', 'selfsigned'];
const ALL_PEERS = [...EMULATOR_PEERS, '@discordjs/ws'];

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}
interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
  files: { path: string }[];
}

/** npm without the settings of an npm that may be running jest (`npm test`). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
}

async function npm(cwd: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('npm', args, { cwd, env: npmEnv(), maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  }
}

async function node(cwd: string, args: string[]): Promise<{ stdout: string; stderr: string; status: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, { cwd });
    return { stdout, stderr, status: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number };
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', status: typeof e.code === 'number' ? e.code : -1 };
  }
}

/**
 * A package-lock.json for a project that depends on `deps` (names of packages in this
 * repository's lockfile) and on the packed `tarball`: every entry reachable from them as
 * npm resolves it (nearest node_modules upwards), copied from this repository's lockfile.
 */
function consumerLock(name: string, projectDir: string, tarball: string, deps: readonly string[]): { pkg: object; lock: object } {
  const repoLock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const all = repoLock.packages;
  const rxPkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as LockEntry & { name: string; license: string };
  const tarballSpec = `file:${path.relative(projectDir, tarball).split(path.sep).join('/')}`;
  const rxEntry: LockEntry = {
    version: rxPkg.version,
    resolved: tarballSpec,
    integrity: `sha512-${createHash('sha512').update(fs.readFileSync(tarball)).digest('base64')}`,
    license: rxPkg.license,
    dependencies: rxPkg.dependencies,
    optionalDependencies: rxPkg.optionalDependencies,
    peerDependencies: rxPkg.peerDependencies,
    peerDependenciesMeta: rxPkg.peerDependenciesMeta,
    bin: rxPkg.bin,
    engines: rxPkg.engines,
  };
  const rootDeps: Record<string, string> = { rxvoice: tarballSpec };
  for (const d of deps) rootDeps[d] = all[`node_modules/${d}`].version!;

  const out: Record<string, LockEntry> = {
    '': { name, version: '1.0.0', dependencies: rootDeps },
    'node_modules/rxvoice': rxEntry,
  };
  /** The lockfile location `dep` resolves to from the package at `from`. */
  const locate = (from: string, dep: string): string | null => {
    let dir = from;
    for (;;) {
      const candidate = `${dir ? `${dir}/` : ''}node_modules/${dep}`;
      if (all[candidate] || out[candidate]) return candidate;
      if (!dir) return null;
      const i = dir.lastIndexOf('node_modules/');
      dir = i <= 0 ? '' : dir.slice(0, i - 1);
    }
  };
  const queue: string[] = ['', 'node_modules/rxvoice'];
  while (queue.length > 0) {
    const at = queue.shift()!;
    const entry = out[at];
    const edges: [string, boolean][] = [
      ...Object.keys(entry.dependencies ?? {}).map((d): [string, boolean] => [d, false]),
      ...Object.keys(entry.optionalDependencies ?? {}).map((d): [string, boolean] => [d, true]),
      // npm installs the peers that are not optional.
      ...Object.keys(entry.peerDependencies ?? {})
        .filter((d) => !entry.peerDependenciesMeta?.[d]?.optional)
        .map((d): [string, boolean] => [d, false]),
    ];
    for (const [dep, optional] of edges) {
      const loc = locate(at, dep);
      if (loc === null) {
        if (optional) continue;
        throw new Error(`${dep} (needed by ${at || 'the project'}) is not in package-lock.json`);
      }
      if (out[loc]) continue;
      const { dev: _dev, devOptional, peer: _peer, optional: wasOptional, ...rest } = all[loc];
      out[loc] = { ...rest, ...(wasOptional || devOptional ? { optional: true } : {}) };
      queue.push(loc);
    }
  }
  return {
    pkg: { name, version: '1.0.0', private: true, dependencies: rootDeps },
    lock: { name, version: '1.0.0', lockfileVersion: 3, requires: true, packages: out },
  };
}

/** Writes `name` with `deps` into `dir` and installs it offline from the lockfile, without install scripts. */
async function install(dir: string, name: string, type: 'commonjs' | 'module', tarball: string, deps: readonly string[]): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const { pkg, lock } = consumerLock(name, dir, tarball, deps);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, type }, null, 2));
  fs.writeFileSync(path.join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
  // `npm install` (not `ci`) re-resolves what the lockfile lacks: with --offline it fails
  // if npm wanted anything more, e.g. a peer dependency that is not optional.
  await npm(dir, ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error']);
  // The binary @discordjs/opus's install script would have fetched or built.
  fs.cpSync(path.join(root, 'node_modules/@discordjs/opus/prebuild'), path.join(dir, 'node_modules/@discordjs/opus/prebuild'), { recursive: true });
}

const installed = (dir: string, name: string): boolean => fs.existsSync(path.join(dir, 'node_modules', name, 'package.json'));

/** Starts `node_modules/.bin/rxvoice emulator` in `dir`, waits for its UDP line, stops it with SIGINT. */
async function emulatorBin(dir: string): Promise<{ out: string; status: number | null }> {
  const child = spawn(path.join(dir, 'node_modules/.bin/rxvoice'), ['emulator'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (/udp: 127\.0\.0\.1:\d+/.test(out)) child.kill('SIGINT');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const status = await exited;
  clearTimeout(timer);
  return { out, status };
}

/** Seconds each phase took (printed when RXVOICE_PACK_TIMINGS is set). */
const timings: Record<string, number> = {};
async function timed<T>(phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[phase] = (Date.now() - t0) / 1000;
  }
}

let work: string;
let tarball: string;
let packed: PackResult;
let cjs: string;
let esm: string;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'rxvoice-pack-'));
  // A clean checkout: the sources, no dist/.
  const stage = path.join(work, 'stage');
  fs.mkdirSync(stage);
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'LICENSE', 'README.md', 'ARCHITECTURE.md']) {
    fs.copyFileSync(path.join(root, f), path.join(stage, f));
  }
  fs.cpSync(path.join(root, 'src'), path.join(stage, 'src'), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  const out = await timed('pack (prepack builds)', () => npm(stage, ['pack', '--json', '--pack-destination', work, '--loglevel=error']));
  packed = (JSON.parse(out.slice(out.indexOf('[\n'))) as PackResult[])[0];
  tarball = path.join(work, packed.filename);

  cjs = path.join(work, 'cjs');
  esm = path.join(work, 'esm');
  // CommonJS without the optional peers (a library user); ESM with them (a user of rxvoice/testing).
  await Promise.all([
    timed('install cjs', () => install(cjs, 'rxvoice-cjs-consumer', 'commonjs', tarball, ['@types/node'])),
    timed('install esm', () => install(esm, 'rxvoice-esm-consumer', 'module', tarball, ['@types/node', ...EMULATOR_PEERS])),
  ]);
}, 180_000);

afterAll(() => {
  if (process.env.RXVOICE_PACK_TIMINGS) console.log(JSON.stringify({ work, timings }, null, 2));
  if (work && !process.env.RXVOICE_PACK_KEEP) fs.rmSync(work, { recursive: true, force: true });
});

test('the tarball: built code with inline sources, LICENSE, no sources or tests', () => {
  const files = packed.files.map((f) => f.path);
  for (const f of ['package.json', 'LICENSE', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/testing/index.js', 'dist/protocol/index.d.ts', 'dist/cli/rxvoice.js', 'dist/testing/cli.js']) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => !f.startsWith('dist/') && !['package.json', 'LICENSE', 'README.md', 'ARCHITECTURE.md'].includes(f))).toEqual([]);
  expect(files.filter((f) => /\.test\.|tsbuildinfo/.test(f))).toEqual([]);
  const map = JSON.parse(fs.readFileSync(path.join(cjs, 'node_modules/rxvoice/dist/index.js.map'), 'utf8')) as { sourcesContent?: string[] };
  expect(map.sourcesContent?.[0]).toContain('export');
  const bin = fs.readFileSync(path.join(cjs, 'node_modules/rxvoice/dist/cli/rxvoice.js'), 'utf8');
  expect(bin.startsWith('#!/usr/bin/env node')).toBe(true);
});

test('CommonJS without the optional peers: the main entry loads; rxvoice/testing and the emulator name what is missing', async () => {
  for (const peer of ALL_PEERS) expect(installed(cjs, peer)).toBe(false);
  fs.writeFileSync(
    path.join(cjs, 'main.js'),
    `const rx = require('rxvoice');
const protocol = require('rxvoice/protocol');
let testing;
try { require('rxvoice/testing'); } catch (err) { testing = { code: err.code, message: err.message }; }
console.log(JSON.stringify({ main: typeof rx.joinVoiceChannel, protocol: Object.keys(protocol).length, testing }));
`,
  );
  const r = await node(cjs, ['main.js']);
  expect(r.stderr).toBe('');
  const result = JSON.parse(r.stdout) as { main: string; protocol: number; testing: { code: string; message: string } };
  expect(result.main).toBe('function');
  expect(result.protocol).toBeGreaterThan(0);
  expect(result.testing.code).toBe('MISSING_PEER_DEPENDENCY');
  for (const peer of EMULATOR_PEERS) expect(result.testing.message).toContain(`'${peer}'`);
  expect(result.testing.message).toContain('npm install --save-dev ts-mls@');

  const version = await node(cjs, ['node_modules/.bin/rxvoice', '--version']);
  expect(version.stdout).toMatch(/^rxvoice \d+\.\d+\.\d+/);
  // The CLI's main gateway (@discordjs/ws) is an optional peer too.
  const rec = await node(cjs, ['node_modules/.bin/rxvoice', 'record', '--guild', '300000000000000001', '--channel', '300000000000000002', '--token', 'not-a-token']);
  expect(rec.status).toBe(5);
  expect(rec.stderr).toContain("rxvoice: GATEWAY_FAILED: the rxvoice command line needs the optional peer dependency '@discordjs/ws'");
  const emulator = await emulatorBin(cjs);
  expect(emulator.status).toBe(1);
  expect(emulator.out).toMatch(/rxvoice: rxvoice\/testing needs the optional peer dependencies 'ts-mls', '@noble\/curves', 'selfsigned'/);
}, 60_000);

test('ESM with the optional peers: imports the main entry and rxvoice/testing; the emulator (with DAVE) starts', async () => {
  fs.writeFileSync(
    path.join(esm, 'main.js'),
    `import { joinVoiceChannel } from 'rxvoice';
import { startVoiceServer, generateTone } from 'rxvoice/testing';
import * as protocol from 'rxvoice/protocol';
const server = await startVoiceServer({ dave: true });
const endpoint = server.endpoint;
await server.close();
console.log(JSON.stringify({ main: typeof joinVoiceChannel, tone: typeof generateTone, protocol: Object.keys(protocol).length, endpoint }));
`,
  );
  const r = await node(esm, ['main.js']);
  expect(r.stderr).toBe('');
  const result = JSON.parse(r.stdout) as { main: string; tone: string; protocol: number; endpoint: string };
  expect(result).toMatchObject({ main: 'function', tone: 'function' });
  expect(result.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(installed(esm, '@discordjs/ws')).toBe(false);

  const emulator = await emulatorBin(esm);
  expect(emulator.out).toContain('rxvoice voice-server emulator');
  expect(emulator.status).toBe(0);
}, 60_000);

test('TypeScript: the main entry, rxvoice/testing and rxvoice/protocol type-check under node10, node16 and bundler resolution', async () => {
  const dir = path.join(esm, 'ts');
  fs.mkdirSync(dir, { recursive: true });
  const source = `import { joinVoiceChannel, type VoiceConnection } from 'rxvoice';
import { startVoiceServer, type VoiceServer } from 'rxvoice/testing';
import * as protocol from 'rxvoice/protocol';
export const used: [typeof joinVoiceChannel, typeof startVoiceServer, typeof protocol] = [joinVoiceChannel, startVoiceServer, protocol];
export type Both = [VoiceConnection, VoiceServer];
`;
  // node16: an ESM file (.mts) and a CommonJS one (.cts).
  fs.writeFileSync(path.join(dir, 'check.ts'), source);
  fs.writeFileSync(path.join(dir, 'check.mts'), source);
  fs.writeFileSync(path.join(dir, 'check.cts'), source);
  // Resolution is what differs between the three; the shipped declarations themselves are
  // checked once, under node16 (skipLibCheck false costs ~4 s of CPU per program).
  const base = { strict: true, noEmit: true, skipLibCheck: true, types: ['node'], target: 'ES2022', lib: ['ES2022'] };
  const configs: Record<string, { compilerOptions: object; files: string[] }> = {
    node10: { compilerOptions: { ...base, module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, files: ['check.ts'] },
    node16: { compilerOptions: { ...base, skipLibCheck: false, module: 'node16', moduleResolution: 'node16' }, files: ['check.mts', 'check.cts'] },
    bundler: { compilerOptions: { ...base, module: 'esnext', moduleResolution: 'bundler' }, files: ['check.ts'] },
  };
  const results = await Promise.all(
    Object.entries(configs).map(async ([name, config]) => {
      const file = path.join(dir, `tsconfig.${name}.json`);
      fs.writeFileSync(file, JSON.stringify(config, null, 2));
      const r = await timed(`tsc ${name}`, () => node(dir, [tsc, '-p', file]));
      return `${name}: ${r.status === 0 ? 'ok' : r.stdout + r.stderr}`;
    }),
  );
  expect(results).toEqual(['node10: ok', 'node16: ok', 'bundler: ok']);
}, 60_000);
