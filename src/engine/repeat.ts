/**
 * A repeating timer on the injected clock (so tests drive it with a ManualClock).
 */

/** Calls `tick` every `everyMs` until the returned function is called. */
export function repeat(clock: { timer(ms: number, callback: () => void): () => void }, everyMs: number, tick: () => void): () => void {
  let cancel = clock.timer(everyMs, function again() {
    tick();
    cancel = clock.timer(everyMs, again);
  });
  return () => cancel();
}
