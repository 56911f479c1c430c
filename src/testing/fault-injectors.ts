/**
 * Fault injectors for testing a job's failure paths without a real outage: each is an async
 * function to await at the point where the real call would fail (`await fault(ctx)`), or a wrapper
 * around a whole handler (`fault.wrap(handler)`). They count calls per record key when given one
 * (the `ctx` a handler receives has it), so "fail the first two attempts" means per record.
 */
import { ConfigError } from '../errors.js';
import { checkNumber, formatValue } from '../validation/check.js';

/** What a fault looks at: a handler's `ctx` fits. */
export interface FaultContext {
  /** Counts are kept per key when there is one, else across all calls. */
  readonly key?: string;
  /** `hang()` ends when it aborts (an attempt's timeout, the run stopping). */
  readonly signal?: AbortSignal;
}

/** An injected fault: await it where the failure should happen. */
export interface Fault {
  (ctx?: FaultContext): Promise<void>;
  /** A handler that meets the fault before calling `handler`. */
  wrap<T, C extends FaultContext, R>(handler: (record: T, ctx: C) => R | PromiseLike<R>): (record: T, ctx: C) => Promise<R>;
  /** How many times the fault was awaited, over all keys. */
  readonly calls: number;
  /** How many of those calls it failed (or hung). */
  readonly failures: number;
}

/** What a failing fault throws: an `Error`, or a function building a fresh one per failure. */
export type FaultError = unknown | ((call: number) => unknown);

function makeFault(decide: (callOfKey: number, ctx: FaultContext) => Promise<void> | undefined): Fault {
  const perKey = new Map<string, number>();
  let calls = 0;
  let failures = 0;
  const fault = (async (ctx: FaultContext = {}): Promise<void> => {
    calls++;
    const mapKey = ctx.key ?? '';
    const callOfKey = (perKey.get(mapKey) ?? 0) + 1;
    perKey.set(mapKey, callOfKey);
    const failing = decide(callOfKey, ctx);
    if (failing) {
      failures++;
      await failing;
    }
  }) as Fault;
  Object.defineProperties(fault, {
    calls: { get: () => calls },
    failures: { get: () => failures },
    wrap: {
      value:
        <T, C extends FaultContext, R>(handler: (record: T, ctx: C) => R | PromiseLike<R>) =>
        async (record: T, ctx: C): Promise<R> => {
          await fault(ctx);
          return handler(record, ctx);
        },
    },
  });
  return fault;
}

function errorOf(error: FaultError, call: number): unknown {
  return typeof error === 'function' ? (error as (call: number) => unknown)(call) : error;
}

/**
 * Fails the first `n` calls of each key (each attempt of a record is a call), then lets calls
 * through: a record that succeeds on attempt `n + 1`.
 * @default error: a new `Error('injected failure <call> of <n>')` (retryable by the built-in rules)
 */
export function failTimes(n: number, options: { error?: FaultError } = {}): Fault {
  const times = checkNumber(n, 0, 'failTimes(n)', { min: 0, integer: true, hint: 'how many calls of each key fail' });
  return makeFault((call) =>
    call <= times
      ? Promise.reject(options.error === undefined ? new Error(`injected failure ${call} of ${times}`) : errorOf(options.error, call))
      : undefined,
  );
}

/**
 * Fails with `error` on every call, or on every `every`-th call counted across all keys (2: the
 * 2nd, 4th, 6th …): a share of records hit by a fault whatever their key.
 * @default every: 1 (every call)
 */
export function failWith(error: FaultError, options: { every?: number } = {}): Fault {
  if (error === undefined) throw new ConfigError(`failWith(error) needs the error to throw; got ${formatValue(error)}`);
  const every = checkNumber(options.every, 1, 'failWith(error, { every })', { min: 1, integer: true, hint: '2 fails every second call' });
  let all = 0;
  return makeFault(() => {
    all++;
    return all % every === 0 ? Promise.reject(errorOf(error, all)) : undefined;
  });
}

/**
 * Never returns until the caller's signal aborts, then rejects with its reason: a call that hangs,
 * to test timeouts and shutdown. Without a signal it hangs for good.
 */
export function hang(): Fault {
  return makeFault(
    (_, ctx) =>
      new Promise<void>((_resolve, reject) => {
        const signal = ctx.signal;
        if (!signal) return;
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      }),
  );
}
