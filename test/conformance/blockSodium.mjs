// ESM loader hook for the @discordjs/voice conformance child (test/conformance/djsClient.js).
//
// Usage: node --import ./test/conformance/blockSodium.mjs test/conformance/djsClient.js '<json>'
//
// @discordjs/voice 0.19 picks its XChaCha20-Poly1305 implementation with `await import()` of
// 'sodium-native', 'sodium', 'libsodium-wrappers', '@stablelib/xchacha20poly1305' and
// '@noble/ciphers/chacha.js', in that order, and keeps the first that loads. With
// sodium-native@5 (a dependency of rxvoice) its sodium-native path allocates `NaN` bytes and
// crashes. This hook makes the four native/legacy candidates fail to resolve, so it falls back
// to @noble/ciphers. It also records which of the candidates were asked for (and by which
// module) and which resolved, and exposes that on `globalThis.__blockSodium` in the main thread
// ({ blocked: [{specifier, from}], resolved: [{specifier, from}] }), so the child can prove
// which library @discordjs/voice used.
import { register } from 'node:module';
import { isMainThread, MessageChannel } from 'node:worker_threads';

const BLOCKED = ['sodium-native', 'sodium', 'libsodium-wrappers', '@stablelib/xchacha20poly1305'];
const WATCHED = [...BLOCKED, '@noble/ciphers/chacha.js'];

if (isMainThread && typeof globalThis.__blockSodium === 'undefined') {
  const log = { blocked: [], resolved: [] };
  globalThis.__blockSodium = log;
  const { port1, port2 } = new MessageChannel();
  port1.on('message', (m) => {
    const entry = { specifier: m.specifier, from: m.from };
    if (m.kind === 'blocked') log.blocked.push(entry);
    if (m.kind === 'resolved') log.resolved.push(entry);
  });
  port1.unref();
  register(import.meta.url, { data: { port: port2, blocked: BLOCKED, watched: WATCHED }, transferList: [port2] });
}

// ---- hooks (run on the loader thread) ----
let hookPort = null;
let blocked = [];
let watched = [];

export async function initialize(data) {
  hookPort = data.port;
  blocked = data.blocked;
  watched = data.watched;
}

export async function resolve(specifier, context, nextResolve) {
  if (blocked.includes(specifier)) {
    hookPort?.postMessage({ kind: 'blocked', specifier, from: context.parentURL ?? null });
    const err = new Error(`Cannot find package '${specifier}' (blocked by test/conformance/blockSodium.mjs)`);
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  const result = await nextResolve(specifier, context);
  if (watched.includes(specifier)) hookPort?.postMessage({ kind: 'resolved', specifier, from: context.parentURL ?? null });
  return result;
}
