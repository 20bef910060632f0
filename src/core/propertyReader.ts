/**
 * A function that reads `obj[key]`, calling the getter found once instead of looking the
 * property up on every read.
 *
 * Connections are object literals with getters (`get transport()`, `get state()` …). V8
 * keeps such objects in dictionary mode (each instance has its own getter closures, so
 * instances share no hidden class), and with many connections in a process a read like
 * `conn.transport` in a hot loop is a megamorphic lookup every time: it showed in the
 * per-packet profile (bench/cpu-per-packet.md). Where `key` is not an own getter (a data
 * property, or a getter on a class prototype, both fast) it reads `obj[key]`.
 */
export function propertyReader<T extends object, K extends keyof T>(obj: T, key: K): () => T[K] {
  const getter = Object.getOwnPropertyDescriptor(obj, key)?.get;
  if (getter) return () => getter.call(obj) as T[K];
  return () => obj[key];
}
