/**
 * One call of the handler, contained: it cannot throw past this function, it is abandoned at its
 * timeout (its late result is discarded), and it can be abandoned from outside (shutdown).
 */
import type { Clock } from '../clock.js';
import { TimeoutError } from '../errors.js';
import type { Handler, HandlerContext } from '../job.js';

export type AttemptResult =
  | { readonly ok: true; readonly value: unknown; readonly durationMs: number }
  | { readonly ok: false; readonly error: unknown; readonly durationMs: number; readonly abandoned: boolean };

/** An attempt in progress; `abandon` ends it at once with the given error (the handler's signal aborts). */
export interface RunningAttempt {
  readonly result: Promise<AttemptResult>;
  abandon(reason: unknown): void;
}

export interface AttemptInput<T> {
  readonly handler: Handler<T, unknown>;
  readonly record: T;
  readonly key: string;
  readonly attempt: number;
  readonly idempotencyKey: string;
  readonly position: HandlerContext['position'];
  readonly timeoutMs: number;
  readonly log: HandlerContext['log'];
  readonly clock: Clock;
}

export function startAttempt<T>(input: AttemptInput<T>): RunningAttempt {
  // The AbortController is made only when the handler reads ctx.signal or the attempt must be
  // aborted: on a million no-op records that is a million objects never allocated.
  let controller: AbortController | undefined;
  const controllerNow = (): AbortController => (controller ??= new AbortController());
  const ctx: HandlerContext = {
    key: input.key,
    attempt: input.attempt,
    idempotencyKey: input.idempotencyKey,
    position: input.position,
    log: input.log,
    get signal() {
      return controllerNow().signal;
    },
  };
  const startedAt = input.clock.now();
  let settle!: (result: AttemptResult) => void;
  let settled = false;
  let cancelTimer: (() => void) | undefined;
  const result = new Promise<AttemptResult>((resolve) => {
    settle = (outcome) => {
      if (settled) return;
      settled = true;
      cancelTimer?.();
      resolve(outcome);
    };
  });
  const fail = (error: unknown, abandoned: boolean): void => {
    if (settled) return;
    settle({ ok: false, error, durationMs: input.clock.now() - startedAt, abandoned });
    if (abandoned) controllerNow().abort(error);
  };

  let returned: unknown;
  try {
    returned = input.handler(input.record, ctx);
  } catch (error) {
    fail(error, false);
    return { result, abandon: () => {} };
  }
  if (isThenable(returned)) {
    cancelTimer = input.clock.timer(input.timeoutMs, () => fail(new TimeoutError(input.timeoutMs), true));
    returned.then(
      (value) => settle({ ok: true, value, durationMs: input.clock.now() - startedAt }),
      (error: unknown) => fail(error, false),
    );
  } else {
    settle({ ok: true, value: returned, durationMs: input.clock.now() - startedAt });
  }
  return { result, abandon: (reason) => fail(reason, true) };
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
