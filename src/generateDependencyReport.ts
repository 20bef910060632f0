import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { hasAes256Gcm, SUPPORTED_ENCRYPTION_MODES, type EncryptionMode } from './protocol/transportCrypto';
import { findFfmpeg } from './sources/findFfmpeg';

/** Versions and capabilities rxvoice runs with, from {@link collectDependencyReport}. */
export interface DependencyReport {
  rxvoice: string | null;
  node: string;
  platform: string;
  /** Package versions (null: not installed or unreadable). */
  packages: {
    rxjs: string | null;
    ws: string | null;
    '@discordjs/opus': string | null;
    'sodium-native': string | null;
    '@snazzah/davey': string | null;
  };
  /** The libopus version @discordjs/opus is built from (its bundled source), or null. */
  libopus: string | null;
  /** Whether sodium-native loads and has XChaCha20-Poly1305 (IETF AEAD). */
  xchacha20: boolean;
  /** `DAVE_PROTOCOL_VERSION` of @snazzah/davey (the highest DAVE version rxvoice offers), or null. */
  daveProtocolVersion: number | null;
  /** Whether node:crypto has AES-256-GCM. */
  aes256gcm: boolean;
  /** The transport mode rxvoice prefers when the server offers both (null: neither is available). */
  preferredMode: EncryptionMode | null;
  /** ffmpeg as `findFfmpeg()` finds it; `version` is the first line of `ffmpeg -version`. */
  ffmpeg: { path: string; version: string | null } | { path: null; error: string };
}

/** The version of an installed package: its package.json found from its resolved entry point (works when `exports` hides package.json). */
function packageVersion(name: string): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${name}/package.json`) as { version?: string }).version ?? null;
  } catch {
    // fall through: exports may not list package.json
  }
  try {
    let dir = path.dirname(require.resolve(name));
    for (;;) {
      const file = path.join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name) return pkg.version ?? null;
      }
      const parent = path.dirname(dir);
      if (parent === dir) return null;
      dir = parent;
    }
  } catch {
    return null;
  }
}

function packageDir(name: string): string | null {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return null;
  }
}

/** libopus's version from @discordjs/opus's bundled source (`deps/opus/package_version`). */
function libopusVersion(): string | null {
  const dir = packageDir('@discordjs/opus');
  if (!dir) return null;
  try {
    const text = readFileSync(path.join(dir, 'deps', 'opus', 'package_version'), 'utf8');
    return /PACKAGE_VERSION="?([^"\s]+)"?/.exec(text)?.[1] ?? null;
  } catch {
    return null;
  }
}

function hasXChaCha(): boolean {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sodium = require('sodium-native') as Record<string, unknown>;
    return (
      typeof sodium.crypto_aead_xchacha20poly1305_ietf_encrypt === 'function' &&
      typeof sodium.crypto_aead_xchacha20poly1305_ietf_decrypt === 'function'
    );
  } catch {
    return false;
  }
}

function daveVersion(): number | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const v = (require('@snazzah/davey') as { DAVE_PROTOCOL_VERSION?: unknown }).DAVE_PROTOCOL_VERSION;
    return typeof v === 'number' ? v : null;
  } catch {
    return null;
  }
}

function rxvoiceVersion(): string | null {
  try {
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
    return pkg.name === 'rxvoice' ? (pkg.version ?? null) : null;
  } catch {
    return null;
  }
}

function ffmpegInfo(): DependencyReport['ffmpeg'] {
  let ffmpegPath: string;
  try {
    ffmpegPath = findFfmpeg();
  } catch (err) {
    return { path: null, error: err instanceof Error ? err.message : String(err) };
  }
  const r = spawnSync(ffmpegPath, ['-version'], { encoding: 'utf8', timeout: 5000 });
  const first = typeof r.stdout === 'string' ? r.stdout.split('\n')[0]?.trim() : '';
  return { path: ffmpegPath, version: first ? first : null };
}

/**
 * Collects the versions and capabilities rxvoice runs with: Node, rxjs, ws,
 * @discordjs/opus (+ the libopus it bundles), sodium-native (+ XChaCha20-Poly1305),
 * @snazzah/davey (+ `DAVE_PROTOCOL_VERSION`), ffmpeg (path and `-version`
 * line), and which transport encryption is preferred. Synchronous; runs `ffmpeg -version`.
 */
export function collectDependencyReport(): DependencyReport {
  const aes256gcm = hasAes256Gcm();
  const xchacha20 = hasXChaCha();
  const available = SUPPORTED_ENCRYPTION_MODES.filter((m) => (m === 'aead_aes256_gcm_rtpsize' ? aes256gcm : xchacha20));
  return {
    rxvoice: rxvoiceVersion(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    packages: {
      rxjs: packageVersion('rxjs'),
      ws: packageVersion('ws'),
      '@discordjs/opus': packageVersion('@discordjs/opus'),
      'sodium-native': packageVersion('sodium-native'),
      '@snazzah/davey': packageVersion('@snazzah/davey'),
    },
    libopus: libopusVersion(),
    xchacha20,
    daveProtocolVersion: daveVersion(),
    aes256gcm,
    preferredMode: available[0] ?? null,
    ffmpeg: ffmpegInfo(),
  };
}

/**
 * A printable report of what rxvoice runs with (attach it to bug reports), like
 * @discordjs/voice's function of the same name. `report` defaults to a fresh
 * {@link collectDependencyReport}.
 *
 * @example
 * ```ts
 * console.log(generateDependencyReport());
 * ```
 */
export function generateDependencyReport(report: DependencyReport = collectDependencyReport()): string {
  const v = (s: string | null): string => s ?? 'not found';
  const lines = [
    '-'.repeat(50),
    'Core',
    `- rxvoice: ${v(report.rxvoice)}`,
    `- Node.js: ${report.node} (${report.platform})`,
    `- rxjs: ${v(report.packages.rxjs)}`,
    `- ws: ${v(report.packages.ws)}`,
    '',
    'Opus',
    `- @discordjs/opus: ${v(report.packages['@discordjs/opus'])}${report.libopus ? ` (libopus ${report.libopus})` : ''}`,
    '',
    'Encryption',
    `- AES-256-GCM (node:crypto): ${report.aes256gcm ? 'available' : 'not available'}`,
    `- sodium-native: ${v(report.packages['sodium-native'])} (XChaCha20-Poly1305 ${report.xchacha20 ? 'available' : 'not available'})`,
    `- transport mode preferred: ${report.preferredMode ?? 'none available'}`,
    `- @snazzah/davey: ${v(report.packages['@snazzah/davey'])}${report.daveProtocolVersion !== null ? ` (DAVE protocol version ${report.daveProtocolVersion})` : ''}`,
    '',
    'FFmpeg',
    report.ffmpeg.path !== null ? `- path: ${report.ffmpeg.path}` : '- not found',
    report.ffmpeg.path !== null ? `- version: ${report.ffmpeg.version ?? 'unknown'}` : `- ${report.ffmpeg.error}`,
    '-'.repeat(50),
  ];
  return lines.join('\n');
}
