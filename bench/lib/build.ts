/**
 * Transpiles `src/` and `bench/` to plain JavaScript under `bench/.tmp/js` (TypeScript's
 * `transpileModule`, as ts-node --transpile-only does), so that the measured child processes
 * run with plain `node`: no TypeScript compiler in their memory or CPU profile.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { ROOT, TMP_DIR } from './common';

export const JS_DIR = path.join(TMP_DIR, 'js');

function* tsFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === '.tmp' || e.name === 'results' || e.name === 'node_modules') continue;
      yield* tsFiles(p);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
      yield p;
    }
  }
}

/** Transpiles everything; returns the output directory. Takes well under a second. */
export function buildJs(): string {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    sourceMap: false,
  };
  fs.rmSync(JS_DIR, { recursive: true, force: true });
  for (const top of ['src', 'bench']) {
    for (const file of tsFiles(path.join(ROOT, top))) {
      const out = path.join(JS_DIR, path.relative(ROOT, file)).replace(/\.ts$/, '.js');
      const { outputText } = ts.transpileModule(fs.readFileSync(file, 'utf8'), { compilerOptions: options, fileName: file });
      fs.mkdirSync(path.dirname(out), { recursive: true });
      fs.writeFileSync(out, outputText);
    }
  }
  return JS_DIR;
}
