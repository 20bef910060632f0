/**
 * Type-checks the whole project (src, test, examples, bench) with `tsc --noEmit`: the test
 * files themselves are compiled by ts-jest file by file without type information
 * (`isolatedModules`), so this is where a type error fails `npm test`.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

test('tsc --noEmit: no type errors in src, test, examples and bench', () => {
  const root = path.resolve(__dirname, '..');
  const tsc = require.resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  expect({ status: r.status, output: `${r.stdout}${r.stderr}`.trim() }).toEqual({ status: 0, output: '' });
}, 120_000);
