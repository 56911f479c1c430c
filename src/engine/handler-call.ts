/**
 * One call of the handler, inside the scopes its attempt needs: the escape scope (so that an error
 * escaping the handler fails this attempt, escaped-errors.ts) and whatever the run's `runAttempt`
 * hook adds around it (tracing runs the call inside the attempt's span, so the spans the handler
 * makes hang under it). Without either, the handler is called directly.
 */
import type { HandlerContext, Job } from '../job.js';
import { inAttempt, type AttemptScope, type EscapeListener } from './escaped-errors.js';
import type { OpenRecord } from './open-record.js';

/**
 * Runs `call` (the handler's call for attempt `attempt` of record `key`) and returns what it
 * returns, or throws what it throws. It must call `call` exactly once, synchronously.
 */
export type AttemptRunner = (key: string, attempt: number, call: () => unknown) => unknown;

/** What fails an attempt from outside its promise: the executor (its `escaped`). */
export interface AttemptOwner {
  escaped(entry: OpenRecord, generation: number, error: unknown): boolean;
}

/**
 * Calls the handler for the attempt `generation` of `entry` inside `runAttempt`; returns what it
 * returned (a value or a promise). Without a `runAttempt` the executor calls the handler itself, as
 * this does inside it: a no-op handler's hot path is not one call longer for a hook that is off.
 */
export function callHandler(
  owner: AttemptOwner,
  entry: OpenRecord,
  generation: number,
  ctx: HandlerContext,
  job: Job<any, any>,
  escapes: EscapeListener | undefined,
  runAttempt: AttemptRunner,
): unknown {
  return runAttempt(entry.key, entry.attempt, () =>
    escapes
      ? inAttempt(new HandlerAttempt(owner, entry, generation, escapes), job.handler, entry.record, ctx)
      : job.handler(entry.record, ctx),
  );
}

/** The attempt a handler call belongs to, for errors that escape it. */
export class HandlerAttempt implements AttemptScope {
  constructor(
    private readonly owner: AttemptOwner,
    private readonly entry: OpenRecord,
    private readonly generation: number,
    readonly run: EscapeListener,
  ) {}

  get key(): string {
    return this.entry.key;
  }

  fail(error: unknown): boolean {
    return this.owner.escaped(this.entry, this.generation, error);
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
