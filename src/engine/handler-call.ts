/**
 * One call of the handler, inside the scopes its attempt needs: the escape scope (so that an error
 * escaping the handler fails this attempt, escaped-errors.ts) and whatever the run's `runAttempt`
 * hook adds around it (tracing runs the call inside the attempt's span, so the spans the handler
 * makes hang under it). Without either, the handler is called directly.
 */
import type { Job } from '../job.js';
import type { AttemptContext } from './attempt-context.js';
import { inAttempt } from './escaped-errors.js';

/**
 * Runs `call` (the handler's call for attempt `attempt` of record `key`) and returns what it
 * returns, or throws what it throws. It must call `call` exactly once, synchronously.
 */
export type AttemptRunner = (key: string, attempt: number, call: () => unknown) => unknown;

/**
 * Calls the handler with `record` and `ctx` inside `runAttempt`, and inside `ctx`'s escape scope
 * when `scoped`; returns what it returned (a value or a promise). Without a `runAttempt` the
 * executor calls the handler itself, as this does inside it: a no-op handler's hot path is not one
 * call longer for a hook that is off.
 */
export function callHandler(job: Job<any, any>, record: unknown, ctx: AttemptContext, scoped: boolean, runAttempt: AttemptRunner): unknown {
  return runAttempt(ctx.key, ctx.attempt, () => (scoped ? inAttempt(ctx, job.handler, record, ctx) : job.handler(record, ctx)));
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
