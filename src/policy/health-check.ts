/**
 * Runs the job's health check: a few attempts with a doubling delay, each with a time limit
 * enforced through its AbortSignal.
 */
import type { Clock } from '../clock.js';
import { ConfigError, TimeoutError } from '../errors.js';
import { checkKnownKeys, formatValue } from '../validation/check.js';
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
  if (input === null || typeof input !== 'object')
    throw new ConfigError(`${field} must be an object; got ${formatValue(input)}`, { field });
  checkKnownKeys(input, field, Object.keys(DEFAULTS));
  const merged = { ...DEFAULTS, ...input };
  if (!Number.isInteger(merged.maxAttempts) || merged.maxAttempts < 1)
    throw new ConfigError(`${field}.maxAttempts must be an integer ≥ 1; got ${formatValue(merged.maxAttempts)}`, {
      field: `${field}.maxAttempts`,
    });
  for (const name of ['delayMs', 'timeoutMs'] as const) {
    if (typeof merged[name] !== 'number' || !(merged[name] >= 0) || !Number.isFinite(merged[name])) {
      throw new ConfigError(`${field}.${name} must be a number of milliseconds ≥ 0; got ${formatValue(merged[name])}`, {
        field: `${field}.${name}`,
      });
    }
  }
  return Object.freeze(merged);
}

export type HealthResult =
  { readonly ok: true; readonly attempts: number } | { readonly ok: false; readonly attempts: number; readonly error: SerializedError };

/** One call with its time limit. */
export async function checkOnce(
  check: HealthCheck,
  timeoutMs: number,
  clock: Clock,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  const controller = new AbortController();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (result: { ok: true } | { ok: false; error: unknown }): void => {
      if (settled) return;
      settled = true;
      cancel();
      resolve(result);
    };
    const cancel = clock.timer(timeoutMs, () => {
      const error = new TimeoutError(timeoutMs);
      controller.abort(error);
      finish({ ok: false, error });
    });
    Promise.resolve()
      .then(() => check(controller.signal))
      .then(
        () => finish({ ok: true }),
        (error: unknown) => finish({ ok: false, error }),
      );
  });
}

/** Calls the check until it passes or its attempts are used up. */
export async function runHealthCheck(check: HealthCheck, options: ResolvedHealthCheckOptions, clock: Clock): Promise<HealthResult> {
  let delay = options.delayMs;
  for (let attempt = 1; ; attempt++) {
    const result = await checkOnce(check, options.timeoutMs, clock);
    if (result.ok) return { ok: true, attempts: attempt };
    if (attempt >= options.maxAttempts) return { ok: false, attempts: attempt, error: serializeError(result.error) };
    await clock.sleep(delay);
    delay *= 2;
  }
}
