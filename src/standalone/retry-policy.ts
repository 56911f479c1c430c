/**
 * Retries on their own, around any async call: `retryPolicy(options)` builds a reusable policy,
 * `retry(fn, policy)` runs a call under one. The decisions are the job's (`decideRetry` over the
 * same resolved `retry` options, `classifyError` over the same rules), so a call retried here waits
 * exactly what a record of a job with the same policy and random source would wait.
 */
import { abortReason, systemClock, type Clock, type Random } from '../clock.js';
import { TimeoutError } from '../errors.js';
import { classifyError, type ClassifyHook } from '../policy/classify.js';
import { decideRetry, resolveRetry, type ResolvedRetry, type RetryDecision, type RetryOptions } from '../policy/retry.js';
import { withCause } from '../policy/error-fields.js';
import { checkClock, checkFunction, checkNumber, checkSignal, formatValue, isRecord } from '../validation/check.js';
import { ConfigError } from '../errors.js';

/** What the retried function is given on each call. */
export interface AttemptInfo {
  /** 1-based: 1 is the first call. */
  readonly attempt: number;
  /** Aborts when this attempt times out or the caller's signal aborts. */
  readonly signal: AbortSignal;
}

/** Told before each wait, for logging. */
export interface RetryNotice {
  /** The attempt that failed, 1-based. */
  readonly attempt: number;
  readonly error: unknown;
  /** How long the policy waits before the next attempt. */
  readonly delayMs: number;
  /** The server-directed delay (Retry-After) when there was one. */
  readonly retryAfterMs?: number;
  /** The classification rule that let it retry (e.g. `http-status-503`). */
  readonly rule: string;
}

/** Options of a standalone retry policy: the job's `retry` options plus what a job sets elsewhere. */
export interface RetryPolicyOptions extends RetryOptions {
  /** Per attempt: the attempt's signal aborts and the attempt fails with a `TimeoutError` (retryable). `Infinity` turns it off. @default 60_000 */
  timeoutMs?: number;
  /** Decides retryable or fatal before the built-in rules, as the job's `classify`. @default undefined (built-in rules) */
  classify?: ClassifyHook;
  /** Called before each wait. @default undefined */
  onRetry?: (notice: RetryNotice) => void;
  /** Injected time (a `ManualClock` in tests). @default systemClock */
  clock?: Clock;
  /** Injected randomness for jitter, in [0, 1). @default Math.random */
  random?: Random;
}

/** Per-call options of `execute`. */
export interface ExecuteOptions {
  /** Stops retrying: a wait ends at once, a running attempt's signal aborts; the call rejects with the signal's reason. @default undefined */
  signal?: AbortSignal;
}

/** A validated, reusable retry policy. */
export interface RetryPolicy {
  /** The resolved `maxAttempts`, `backoff` and `maxElapsedMs`: plain data, printable. */
  readonly options: ResolvedRetry;
  readonly timeoutMs: number;
  /** The hook that decides retryable or fatal before the built-in rules, if the policy has one: `isolate` reports with it. */
  readonly classify: ClassifyHook | undefined;
  /** The clock the policy waits and times attempts on. */
  readonly clock: Clock;
  /**
   * Calls `fn` until it succeeds or the policy stops; resolves with its result or rejects with the
   * last error, unchanged (never wrapped).
   */
  execute<T>(fn: (info: AttemptInfo) => T | PromiseLike<T>, options?: ExecuteOptions): Promise<T>;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Builds a retry policy; throws a `ConfigError` naming the option, the bad value and the fix. */
export function retryPolicy(input: RetryPolicyOptions = {}): RetryPolicy {
  const raw: unknown = input;
  if (!isRecord(raw)) throw new ConfigError(`retry policy options must be an object such as { maxAttempts: 3 }; got ${formatValue(raw)}`);
  const { timeoutMs: rawTimeout, classify, onRetry, clock = systemClock, random = Math.random, ...retryOptions } = input;
  // The job's own validation of the rest, with its hints for names from other libraries.
  const options = resolveRetry(retryOptions, 'retry');
  const timeoutMs = checkNumber(rawTimeout, DEFAULT_TIMEOUT_MS, 'retry.timeoutMs', {
    min: 0,
    exclusive: true,
    allowInfinity: true,
    hint: 'milliseconds per attempt; Infinity for none',
  });
  if (classify !== undefined) checkFunction(classify, 'retry.classify', "a function (error) => 'retryable' | 'fatal' | undefined");
  if (onRetry !== undefined) checkFunction(onRetry, 'retry.onRetry', 'a function (notice) => void');
  checkFunction(random, 'retry.random', 'a function () => number in [0, 1)');
  checkClock(clock, 'retry.clock');
  const policy: RetryPolicy = {
    options,
    timeoutMs,
    classify,
    clock,
    async execute<T>(fn: (info: AttemptInfo) => T | PromiseLike<T>, call: ExecuteOptions = {}): Promise<T> {
      const signal = checkSignal(call.signal, 'retry signal');
      const firstAttemptAtMs = clock.now();
      let previousDelayMs = 0;
      for (let attempt = 1; ; attempt++) {
        if (signal?.aborted) throw abortReason(signal);
        let error: unknown;
        try {
          return await runAttempt(fn, attempt, timeoutMs, clock, signal);
        } catch (thrown) {
          error = thrown;
        }
        // The caller gave up: no further attempt, and the attempt's own error is what it ended with.
        if (signal?.aborted) throw error;
        const { classification, rule } = classifyError(error, classify);
        let decision: RetryDecision;
        try {
          decision = decideRetry(
            options,
            { attempt, firstAttemptAtMs, nowMs: clock.now(), previousDelayMs, error, classification },
            random,
          );
        } catch (policyError) {
          // A custom backoff that returned nonsense or threw: its error ends the call, with the
          // call's own error as its cause, as a job's record keeps it (record-executor.ts).
          throw withCause(policyError, error);
        }
        if (!decision.retry) throw error;
        onRetry?.({
          attempt,
          error,
          delayMs: decision.delayMs,
          rule,
          ...(decision.retryAfterMs === undefined ? {} : { retryAfterMs: decision.retryAfterMs }),
        });
        previousDelayMs = decision.delayMs;
        await clock.sleep(decision.delayMs, signal);
      }
    },
  };
  return Object.freeze(policy);
}

/**
 * Calls `fn` under `policy` (a `RetryPolicy`, or options to build one): resolves with its result
 * or rejects with the last error unchanged.
 * @example await retry(({ signal }) => fetch(url, { signal }), { maxAttempts: 5 })
 */
export function retry<T>(
  fn: (info: AttemptInfo) => T | PromiseLike<T>,
  policy: RetryPolicy | RetryPolicyOptions = {},
  options: ExecuteOptions = {},
): Promise<T> {
  const built = isRetryPolicy(policy) ? policy : retryPolicy(policy);
  return built.execute(fn, options);
}

/** Whether `value` is a built policy rather than options to build one. */
export function isRetryPolicy(value: unknown): value is RetryPolicy {
  return isRecord(value) && typeof value.execute === 'function' && isRecord(value.options);
}

/** One attempt, bounded by `timeoutMs` and the caller's signal; the function's late result is ignored. */
async function runAttempt<T>(
  fn: (info: AttemptInfo) => T | PromiseLike<T>,
  attempt: number,
  timeoutMs: number,
  clock: Clock,
  signal: AbortSignal | undefined,
): Promise<T> {
  const controller = new AbortController();
  let cancelTimer: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_, reject) => {
    if (Number.isFinite(timeoutMs)) {
      cancelTimer = clock.timer(timeoutMs, () => {
        const error = new TimeoutError(timeoutMs);
        controller.abort(error);
        reject(error);
      });
    }
    if (signal) {
      onAbort = () => {
        controller.abort(abortReason(signal));
        reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    const call = Promise.resolve().then(() => fn({ attempt, signal: controller.signal }));
    // An attempt abandoned at its timeout may still reject later: that must not be an unhandled rejection.
    call.catch(() => {});
    stop.catch(() => {});
    return await Promise.race([call, stop]);
  } finally {
    cancelTimer?.();
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
