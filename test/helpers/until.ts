/** Polls `check` every 10 ms; rejects after `timeoutMs` with `what()` (the state to show) in the message. */
export async function until(check: () => boolean, what: () => string = () => '', timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
