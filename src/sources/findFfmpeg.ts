import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { FfmpegNotFoundError } from './FfmpegNotFoundError';

/** Options of {@link findFfmpeg}. */
export interface FindFfmpegOptions {
  /** Ignore the cached result and search again (e.g. after installing ffmpeg). Default false. */
  refresh?: boolean;
}

const HOW_TO_FIX =
  'install ffmpeg and put it on PATH (e.g. `apt install ffmpeg`, `brew install ffmpeg`), ' +
  'set FFMPEG_PATH to an ffmpeg executable, or `npm install @ffmpeg-installer/ffmpeg`';

/** The last successful lookup, keyed by the environment it was made in. */
let cache: { key: string; path: string } | null = null;

/**
 * The path of the ffmpeg executable rxvoice spawns.
 *
 * Looks, in order, at:
 * 1. `process.env.FFMPEG_PATH` — if set, it must name an existing executable file, else
 *    this throws (it never silently falls back to another ffmpeg);
 * 2. an `ffmpeg` executable in a `PATH` directory (`ffmpeg.exe` etc. per `PATHEXT` on Windows);
 * 3. the optional dependency `@ffmpeg-installer/ffmpeg` (its bundled binary).
 *
 * The result is cached per `FFMPEG_PATH`/`PATH` value, so changing either variable (as
 * tests do) triggers a new search; `{ refresh: true }` forces one. Failures are not cached.
 * Synchronous; a cold search does a few `stat` calls.
 *
 * @returns an absolute (or `FFMPEG_PATH`-as-given) path to the executable.
 * @throws {FfmpegNotFoundError} `FFMPEG_NOT_FOUND` when `FFMPEG_PATH` names a missing or
 *   non-executable file, or no ffmpeg was found; the message says how to fix it.
 *
 * @example
 * const ffmpeg = findFfmpeg(); // '/usr/bin/ffmpeg'
 * spawn(ffmpeg, ['-version']);
 */
export function findFfmpeg(options: FindFfmpegOptions = {}): string {
  const envPath = process.env.FFMPEG_PATH;
  const key = `${envPath ?? ''}\0${process.env.PATH ?? ''}`;
  if (!options.refresh && cache?.key === key) return cache.path;

  let found: string | null;
  if (envPath !== undefined && envPath !== '') {
    if (!isExecutableFile(envPath)) {
      throw new FfmpegNotFoundError(
        `FFMPEG_PATH is set to ${JSON.stringify(envPath)}, but no executable file exists there; ` +
          `fix FFMPEG_PATH or unset it (then rxvoice searches PATH), or ${HOW_TO_FIX}`,
      );
    }
    found = envPath;
  } else {
    found = searchPath(process.env.PATH ?? '') ?? installerPath();
  }
  if (found === null) throw new FfmpegNotFoundError(`ffmpeg was not found; ${HOW_TO_FIX}`);
  cache = { key, path: found };
  return found;
}

/** The first `ffmpeg` executable in the `PATH` directories, or null. */
function searchPath(pathVar: string): string | null {
  const names =
    process.platform === 'win32'
      ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM')
          .split(';')
          .filter((ext) => ext !== '')
          .map((ext) => `ffmpeg${ext.toLowerCase()}`)
      : ['ffmpeg'];
  for (const dir of pathVar.split(delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const candidate = join(dir, name);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return null;
}

/** The binary of the optional `@ffmpeg-installer/ffmpeg` package, or null when it is not installed. */
function installerPath(): string | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const installer: unknown = require('@ffmpeg-installer/ffmpeg');
    if (typeof installer === 'object' && installer !== null && 'path' in installer) {
      const { path } = installer;
      if (typeof path === 'string' && isExecutableFile(path)) return path;
    }
  } catch {
    // Not installed (it is an optional dependency) or no binary for this platform.
  }
  return null;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    if (process.platform !== 'win32') accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
