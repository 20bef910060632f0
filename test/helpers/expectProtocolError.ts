import { ProtocolError, type ProtocolErrorCode } from '../../src/errors';

/** Runs `fn`, expecting it to throw a `ProtocolError` with `code`. */
export function expectProtocolError(fn: () => unknown, code: ProtocolErrorCode): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  expect((thrown as ProtocolError).code).toBe(code);
}
