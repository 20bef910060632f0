import type { DriverConnection } from './DriverConnection';

/** Connections whose media runs on a driver thread → how to reach that thread's connection (null: not there yet). */
const targets = new WeakMap<object, () => DriverConnection | null>();

/** Marks `connection` as driven by a driver thread (a `DriverConnection`, or a join function's wrapper of one). */
export function setRemoteTarget(connection: object, target: () => DriverConnection | null): void {
  targets.set(connection, target);
}

/** How sinks reach the driver connection behind `connection`, or undefined when it runs in-process. */
export function remoteTargetOf(connection: object): (() => DriverConnection | null) | undefined {
  return targets.get(connection);
}
