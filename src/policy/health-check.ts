/**
 * Runs the job's health check: a few attempts with a doubling delay, each with a time limit
 * enforced through its AbortSignal.
 */
import type { Clock } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { checkKnownKeys, checkNumber, invalid, isRecord } from '../validation/check.js';
import { serializeError, type SerializedError } from './serialize-error.js';

/**
 * The job's health check: throw (or reject) when the service the handler needs is down. Its
 * `signal` aborts at `healthCheckPolicy.timeoutMs`; what it returns is ignored.
 */
export type HealthCheck = (signal: AbortSignal) => Promise<unknown> | unknown;

/** How the health check is called: attempts, delay and time limit (`healthCheckPolicy`). */
export interface HealthCheckOptions {
  /** Calls before giving up, the first included. @default 3 */
  maxAttempts?: number;
  /** Wait after the first failed call; doubles after each. @default 1000 */
  delayMs?: number;
  /** Time limit of one call. @default 10000 */
  timeoutMs?: number;
}

export type ResolvedHealthCheckOptions = Readonly<Required<HealthCheckOptions>>;

const DEFAULTS: ResolvedHealthCheckOptions = Object.freeze({ maxAttempts: 3, delayMs: 1000, timeoutMs: 10_000 });

export function resolveHealthCheckOptions(input: HealthCheckOptions | undefined, field = 'healthCheckPolicy'): ResolvedHealthCheckOptions {
  if (input === undefined) return DEFAULTS;
  if (!isRecord(input)) throw invalid(field, 'must be an object such as { maxAttempts: 3, timeoutMs: 10000 }', input);
  checkKnownKeys(input, field, Object.keys(DEFAULTS));
  return Object.freeze({
    maxAttempts: checkNumber(input.maxAttempts, DEFAULTS.maxAttempts, `${field}.maxAttempts`, {
      min: 1,
      integer: true,
      hint: 'calls, the first included',
    }),
    delayMs: checkNumber(input.delayMs, DEFAULTS.delayMs, `${field}.delayMs`, {
      min: 0,
      hint: 'milliseconds, doubling after each failed call',
    }),
    // Not 0: a call gets no time at all, so only a check that answers without waiting for anything
    // (no I/O, no timer) could pass, and every run would abort before its first record.
    timeoutMs: checkNumber(input.timeoutMs, DEFAULTS.timeoutMs, `${field}.timeoutMs`, {
      min: 0,
      exclusive: true,
      hint: 'milliseconds per call',
    }),
  });
}

export type HealthResult =
  | { readonly ok: true; readonly attempts: number }
  | { readonly ok: false; readonly attempts: number; readonly error: SerializedError }
  /** The run was stopped while the check ran or waited to call it again: no verdict. */
  | { readonly ok: false; readonly attempts: number; readonly stopped: true };

/** One call's result; `stopped` when `stop` aborted before it ended (the check's signal is aborted with it). */
type CallResult = { ok: true } | { ok: false; error: unknown; stopped?: true };

/** One call with its time limit; a `stop` that aborts ends it at once, aborting the check's signal too. */
export async function checkOnce(check: HealthCheck, timeoutMs: number, clock: Clock, stop?: AbortSignal): Promise<CallResult> {
  const controller = new AbortController();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: CallResult): void => {
      if (settled) return;
      settled = true;
      cancel();
      stop?.removeEventListener('abort', stopped);
      resolve(result);
    };
    const cancel = clock.timer(timeoutMs, () => {
      const error = new TimeoutError(timeoutMs);
      controller.abort(error);
      finish({ ok: false, error });
    });
    const stopped = (): void => {
      controller.abort(stop?.reason);
      finish({ ok: false, error: stop?.reason, stopped: true });
    };
    if (stop?.aborted) stopped();
    else stop?.addEventListener('abort', stopped, { once: true });
    Promise.resolve()
      .then(() => check(controller.signal))
      .then(
        () => finish({ ok: true }),
        (error: unknown) => finish({ ok: false, error }),
      );
  });
}

/** Calls the check until it passes or its attempts are used up; a `stop` that aborts ends it at once, without a verdict. */
export async function runHealthCheck(
  check: HealthCheck,
  options: ResolvedHealthCheckOptions,
  clock: Clock,
  stop?: AbortSignal,
): Promise<HealthResult> {
  let delay = options.delayMs;
  for (let attempt = 1; ; attempt++) {
    const result = await checkOnce(check, options.timeoutMs, clock, stop);
    if (result.ok) return { ok: true, attempts: attempt };
    if (result.stopped) return { ok: false, attempts: attempt, stopped: true };
    if (attempt >= options.maxAttempts) return { ok: false, attempts: attempt, error: serializeError(result.error) };
    if (!(await waitUnlessStopped(clock, delay, stop))) return { ok: false, attempts: attempt, stopped: true };
    delay *= 2;
  }
}

/** Waits `ms`; false as soon as `stop` aborts (the timer is cancelled: it keeps no process alive). */
function waitUnlessStopped(clock: Clock, ms: number, stop: AbortSignal | undefined): Promise<boolean> {
  if (stop?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const stopped = (): void => {
      cancel();
      resolve(false);
    };
    const cancel = clock.timer(ms, () => {
      stop?.removeEventListener('abort', stopped);
      resolve(true);
    });
    stop?.addEventListener('abort', stopped, { once: true });
  });
}
