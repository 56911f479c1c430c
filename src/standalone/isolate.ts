/**
 * Record-level isolation without a job or a ledger: every record of any (async) iterable goes
 * through `handler` under the same retry policy a job uses (`retry-policy.ts`); one record's
 * failure becomes an outcome, never an exception, and the others go on. Outcomes stream in the
 * order records finish; a summary counts them and groups failures by fingerprint as a job's does.
 * Nothing is stored: for resume after a crash, use a job.
 */
import { TimeoutError } from '../errors.js';
import { FailureKind } from '../domain/status.js';
import { Classification, classifyError } from '../policy/classify.js';
import { failureFingerprint } from '../policy/fingerprint.js';
import { serializeError, type SerializedError } from '../policy/serialize-error.js';
import { checkFunction, checkInteger, checkSignal } from '../validation/check.js';
import { isRetryPolicy, retryPolicy, type RetryPolicy, type RetryPolicyOptions } from './retry-policy.js';
import { ErrorTally, type IsolateSummary } from './error-tally.js';

export type { IsolateSummary } from './error-tally.js';

/** What the handler gets besides the record. */
export interface IsolateContext {
  readonly key: string;
  /** The record's 0-based position in the iterable. */
  readonly index: number;
  /** 1-based attempt. */
  readonly attempt: number;
  /** Aborts at the attempt's timeout or when `options.signal` aborts. */
  readonly signal: AbortSignal;
}

/** Options of `isolate`. */
export interface IsolateOptions<T> {
  /** The record's key, for outcomes and the summary's sample keys. @default its index, as a string */
  key?: (record: T, index: number) => string;
  /** Records handled at once. @default 4 */
  concurrency?: number;
  /** A retry policy or its options (attempts, backoff, per-attempt timeout, classify, clock, random). @default retryPolicy() (3 attempts) */
  retry?: RetryPolicy | RetryPolicyOptions;
  /** Stops taking records; running attempts' signals abort and they fail with the abort reason. @default undefined */
  signal?: AbortSignal;
}

/** How one record ended. */
export type IsolatedOutcome<T, R> =
  | {
      readonly status: 'succeeded';
      readonly key: string;
      readonly index: number;
      readonly record: T;
      readonly attempts: number;
      readonly value: R;
    }
  | {
      readonly status: 'failed';
      readonly key: string;
      readonly index: number;
      readonly record: T;
      readonly attempts: number;
      readonly kind: FailureKind;
      /** The last error, as thrown. */
      readonly error: unknown;
      /** The last error as JSON data, as a failure report stores it. */
      readonly serialized: SerializedError;
      readonly fingerprint: string;
      readonly rule: string;
    };

/** The outcomes, as they come (iterate once), and the summary. */
export interface Isolation<T, R> extends AsyncIterable<IsolatedOutcome<T, R>> {
  /** Resolves when every record has an outcome; outcomes not iterated yet are consumed (and dropped). */
  summary(): Promise<IsolateSummary>;
}

/**
 * Runs `handler` over every record with isolation and retries.
 * @example
 * const run = isolate(rows, (row, { signal }) => upload(row, signal), { concurrency: 8 });
 * for await (const o of run) if (o.status === 'failed') console.error(o.key, o.serialized.message);
 * console.log(await run.summary());
 */
export function isolate<T, R>(
  records: Iterable<T> | AsyncIterable<T>,
  handler: (record: T, ctx: IsolateContext) => R | PromiseLike<R>,
  options: IsolateOptions<T> = {},
): Isolation<T, R> {
  checkFunction(handler, 'isolate handler', 'a function (record, ctx) => result');
  const concurrency = checkInteger(options.concurrency, 'concurrency', 4, 1, 10_000);
  const keyOf = options.key ?? ((_: T, index: number) => String(index));
  checkFunction(keyOf, 'key', 'a function (record, index) => string');
  const policy = isRetryPolicy(options.retry) ? options.retry : retryPolicy(options.retry);
  checkSignal(options.signal, 'isolate signal');
  // The policy's own hook and clock, whether it was built here or given: a failure is reported as
  // the policy decided it (a 404 its hook made retryable ends exhausted, not fatal).
  const { classify, clock } = policy;
  const tally = new ErrorTally();
  const startedAt = clock.now();

  async function one(record: T, index: number): Promise<IsolatedOutcome<T, R>> {
    let key = `@index:${index}`;
    let attempts = 0;
    try {
      key = String(keyOf(record, index));
      const value = await policy.execute(
        ({ attempt, signal }) => {
          attempts = attempt;
          return handler(record, { key, index, attempt, signal });
        },
        { signal: options.signal },
      );
      return { status: 'succeeded', key, index, record, attempts, value };
    } catch (error) {
      const { classification, rule } = classifyError(error, classify);
      const kind =
        attempts === 0
          ? FailureKind.invalid
          : error instanceof TimeoutError
            ? FailureKind.timeout
            : classification === Classification.fatal
              ? FailureKind.fatal
              : FailureKind.exhausted;
      const serialized = serializeError(error);
      const fingerprint = failureFingerprint(serialized, { kind, rule });
      return { status: 'failed', key, index, record, attempts, kind, error, serialized, fingerprint, rule };
    }
  }

  async function* outcomes(): AsyncGenerator<IsolatedOutcome<T, R>> {
    const iterator = Symbol.asyncIterator in records ? records[Symbol.asyncIterator]() : records[Symbol.iterator]();
    const running = new Map<number, Promise<{ slot: number; outcome: IsolatedOutcome<T, R> }>>();
    let index = 0;
    let exhausted = false;
    for (;;) {
      while (!exhausted && running.size < concurrency && options.signal?.aborted !== true) {
        const next = await iterator.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        const slot = index++;
        running.set(
          slot,
          one(next.value, slot).then((outcome) => ({ slot, outcome })),
        );
      }
      if (running.size === 0) break;
      const { slot, outcome } = await Promise.race(running.values());
      running.delete(slot);
      tally.add(outcome);
      yield outcome;
    }
  }

  const stream = outcomes();
  let finished: Promise<IsolateSummary> | undefined;
  return {
    [Symbol.asyncIterator]: () => stream,
    summary() {
      finished ??= (async () => {
        for await (const outcome of stream) void outcome;
        return tally.summary(clock.now() - startedAt);
      })();
      return finished;
    },
  };
}
