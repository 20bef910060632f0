/**
 * Resolves at the first SIGINT or SIGTERM (Ctrl-C, `kill`), then stops listening for them, so a
 * second Ctrl-C gets Node's default handling. For long-running commands (`rxvoice node`,
 * `rxvoice emulator`) that shut down cleanly on a signal.
 */
export function untilTerminated(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
