import type { ManualClock } from '../../src/clock.js';

/** Advances the manual clock in steps until the promise settles (no real waiting for timers). */
export async function drive<T>(promise: Promise<T>, clock: ManualClock, stepMs = 50, maxSteps = 100_000): Promise<T> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; !settled && i < maxSteps; i++) await clock.advance(stepMs);
  return promise;
}
