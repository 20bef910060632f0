import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Starts a worker thread on a module of this package, given as its path without extension
 * relative to `src/` (or `dist/`), e.g. `driver/internal/driverWorker`.
 *
 * Built (`dist/*.js`): the `.js` module is the worker's entry. From the TypeScript sources
 * (tests, `npm run demo`, the bench — anything run through ts-node or ts-jest), the worker
 * registers ts-node (transpile only) first and loads the `.ts` module; that costs ~1 s per
 * thread once, at its start.
 *
 * The worker is `unref()`'d: an idle pool never holds the process open (the caller refs it
 * while it has work, see `Worker.ref()`).
 */
export function startWorker(moduleFromRoot: string, workerData: unknown): Worker {
  const root = path.resolve(__dirname, '..', '..');
  const fromSource = __filename.endsWith('.ts');
  let worker: Worker;
  if (fromSource) {
    const file = path.join(root, `${moduleFromRoot}.ts`);
    const script =
      `require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });` +
      `require(${JSON.stringify(file)});`;
    worker = new Worker(script, { eval: true, workerData });
  } else {
    worker = new Worker(path.join(root, `${moduleFromRoot}.js`), { workerData });
  }
  worker.unref();
  return worker;
}
