import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, type ResourceLimits } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this package, given as its path without extension
 * relative to `src/` (or `dist/`), e.g. `driver/internal/driverWorker`.
 *
 * Built (`dist/*.js`): the `.js` module is the worker's entry. From the TypeScript sources
 * (tests, `npm run demo`, anything run through ts-node or ts-jest), `src/` is transpiled
 * once (TypeScript's `transpileModule`, as ts-node does) into
 * `node_modules/.cache/rxvoice-js-<hash of the sources>/`, shared by every process of the
 * checkout; if that fails the worker registers ts-node itself (~1 s per thread).
 *
 * The worker is `unref()`'d: an idle pool never holds the process open (the caller refs it
 * while it has work, see `Worker.ref()`).
 */
export function startWorker(moduleFromRoot: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const root = path.resolve(__dirname, '..', '..');
  const fromSource = __filename.endsWith('.ts');
  let worker: Worker;
  if (fromSource) {
    const built = transpiledSources(root);
    if (built) {
      worker = new Worker(path.join(built, `${moduleFromRoot}.js`), { workerData, resourceLimits });
    } else {
      const file = path.join(root, `${moduleFromRoot}.ts`);
      const script =
        `require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });` +
        `require(${JSON.stringify(file)});`;
      worker = new Worker(script, { eval: true, workerData, resourceLimits });
    }
  } else {
    worker = new Worker(path.join(root, `${moduleFromRoot}.js`), { workerData, resourceLimits });
  }
  worker.unref();
  return worker;
}

let transpiled: string | null | undefined;

function* tsFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* tsFiles(p);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** `srcRoot` as JavaScript in the project's `node_modules/.cache` (null when that cannot be done). */
function transpiledSources(srcRoot: string): string | null {
  if (transpiled !== undefined) return transpiled;
  transpiled = null;
  try {
    const modules = path.join(srcRoot, '..', 'node_modules');
    if (!fs.existsSync(modules)) return null;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ts = require('typescript') as typeof import('typescript');
    const files = [...tsFiles(srcRoot)].sort();
    const hash = createHash('sha1');
    for (const f of files) {
      const st = fs.statSync(f);
      hash.update(`${path.relative(srcRoot, f)}:${st.size}:${st.mtimeMs}\n`);
    }
    const dir = path.join(modules, '.cache', `rxvoice-js-${hash.digest('hex').slice(0, 16)}`);
    if (!fs.existsSync(path.join(dir, '.complete'))) {
      const tmp = `${dir}.${process.pid}.${Date.now()}`;
      const options = { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false };
      for (const f of files) {
        const out = path.join(tmp, path.relative(srcRoot, f)).replace(/\.ts$/, '.js');
        const { outputText } = ts.transpileModule(fs.readFileSync(f, 'utf8'), { compilerOptions: options, fileName: f });
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, outputText);
      }
      fs.writeFileSync(path.join(tmp, '.complete'), '');
      try {
        fs.renameSync(tmp, dir);
      } catch {
        fs.rmSync(tmp, { recursive: true, force: true }); // another process made it first
      }
    }
    transpiled = dir;
  } catch {
    transpiled = null;
  }
  return transpiled;
}
