import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The `code` of the error {@link assertOptionalPeers} throws. */
export const MISSING_PEER_DEPENDENCY = 'MISSING_PEER_DEPENDENCY';

/** The version ranges rxvoice's package.json asks for (`name@range` for the install hint). */
function peerRanges(): Record<string, string> {
  try {
    // src/testing/internal and dist/testing/internal are both three levels below the package root.
    const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      peerDependencies?: Record<string, string>;
    };
    return pkg.peerDependencies ?? {};
  } catch {
    return {};
  }
}

/** Whether `name` can be resolved from here (an installed package whose `exports` refuse `require` still counts). */
function isInstalled(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND';
  }
}

/**
 * Throws an `Error` with code {@link MISSING_PEER_DEPENDENCY} naming every package of
 * `names` (optional peer dependencies of rxvoice) that is not installed, and the `npm
 * install` command that adds them (internal).
 */
export function assertOptionalPeers(feature: string, names: readonly string[]): void {
  const missing = names.filter((n) => !isInstalled(n));
  if (missing.length === 0) return;
  const ranges = peerRanges();
  const specs = missing.map((n) => (ranges[n] ? `${n}@${ranges[n]}` : n));
  const err = new Error(
    `${feature} needs the optional peer dependenc${missing.length === 1 ? 'y' : 'ies'} ${missing.map((n) => `'${n}'`).join(', ')}, ` +
      `which ${missing.length === 1 ? 'is' : 'are'} not installed: npm install --save-dev ${specs.join(' ')}`,
  ) as Error & { code: string };
  err.code = MISSING_PEER_DEPENDENCY;
  throw err;
}
