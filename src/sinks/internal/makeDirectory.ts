import { mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Creates `directory` and any missing parents, one level at a time. Unlike
 * `mkdirSync(dir, { recursive: true })`, which spins forever on some pseudo file systems
 * (e.g. under /proc, where mkdir fails with ENOENT on a parent that exists), every failure
 * here throws the error of the level that failed.
 * @throws the `fs` error (ENOTDIR, EACCES, ENOENT, EROFS…) of the first level that could not be made.
 */
export function makeDirectory(directory: string): void {
  const missing: string[] = [];
  let dir = path.resolve(directory);
  // Up to the nearest level that exists, which must be a directory.
  for (;;) {
    let isDirectory: boolean;
    try {
      isDirectory = statSync(dir).isDirectory();
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT') throw err;
      missing.push(dir);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
      continue;
    }
    if (!isDirectory) throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${directory}' (${dir} is a file)`), { code: 'ENOTDIR' });
    break;
  }
  for (const level of missing.reverse()) {
    try {
      mkdirSync(level);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'EEXIST' && statSync(level).isDirectory()) continue;
      throw err;
    }
  }
}
