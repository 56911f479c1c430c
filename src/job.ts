/**
 * Job definition: what the user writes. `defineJob` validates once and returns a frozen, resolved
 * job; the engine only ever sees the resolved form.
 */
import { ConfigError } from './errors.js';
import type { ClassifyHook } from './policy/classify.js';
import { checkRedactPatterns, createRedactor, type Redactor } from './policy/redact.js';
import { resolveRetry, type ResolvedRetry, type RetryOptions } from './policy/retry.js';
import { checkFraction, checkFunction, checkInteger, checkKnownKeys, checkPositive, formatValue, isRecord } from './validation/check.js';
import { DependencyFailurePolicy } from './graph/dependency-tracker.js';
import {
  resolveHealthCheckOptions,
  type HealthCheck,
  type HealthCheckOptions,
  type ResolvedHealthCheckOptions,
} from './policy/health-check.js';
import { resolveRateLimit, type RateLimitOptions, type ResolvedRateLimit } from './policy/token-bucket.js';
import { resolveBreaker, type BreakerOptions, type ResolvedBreaker } from './policy/breaker.js';
import { MAX_CONCURRENCY, resolveConcurrencyRange, type ConcurrencyRange } from './policy/concurrency-limit.js';
import { resolveRetryBudget, type ResolvedRetryBudget, type RetryBudgetOptions } from './policy/retry-budget.js';
import type { OutputSink } from './sinks/output-sink.js';
import type { Source } from './sources/source.js';
import { toSource, type SourceInput } from './sources/iterable.js';
import { checkLedgerOption } from './ledger/ledger-location.js';
import { DEFAULT_KEEP_RUNS, MAX_KEEP_RUNS } from './report/prune-run-reports.js';
import { resolveAlerts, type AlertOptions, type ResolvedAlerts } from './observe/alerts/alert-options.js';
import type { EventListener } from './events/engine-event.js';
import { resolveTracing, type ResolvedTracing, type TracingOptions } from './observe/tracing-options.js';

/** What the handler receives besides the record. */
export interface HandlerContext {
  /** The record's key. */
  readonly key: string;
  /** 1-based number of this call for this record within the current run. */
  readonly attempt: number;
  /** Aborts when the attempt times out, or when the run shuts down and the grace period ends. */
  readonly signal: AbortSignal;
  /** `<job name>:<key>`: the same on every attempt and every run, for de-duplicating side effects downstream. */
  readonly idempotencyKey: string;
  /** Where the record is in its source. */
  readonly position: { readonly seq: number; readonly line?: number; readonly offset?: number };
  /** Emits a `record:log` event (the CLI prints it). */
  log(message: string, fields?: Record<string, unknown>): void;
  /** With `onDependencyFailure: 'run'`: the dependencies of this record that failed. Otherwise empty. */
  readonly failedDependencies: readonly string[];
  /**
   * A durable step: calls `fn` once per record and stores its result (JSON) in the ledger, so a
   * retry, a resume after a crash or a rerun returns the stored result instead of calling `fn`
   * again. For side effects that must not repeat (charge, then email). Names are per record; a
   * step that completed keeps its result for good. Costs one ledger read per attempt that uses
   * steps and one immediate write per completed step (docs/jobs.md, "Durable steps").
   */
  step<R>(name: string, fn: () => R | PromiseLike<R>): Promise<R>;
}

/** The user's function that processes one record. Its return value is the record's result. */
export type Handler<T, R> = (record: T, ctx: HandlerContext) => Promise<R> | R;

/** When outcomes are committed to the ledger (whichever comes first). */
export interface CheckpointOptions {
  /** Commit after this many outcomes. @default 1000 */
  everyRecords?: number;
  /** Commit at least this often while outcomes are waiting, in milliseconds. @default 1000 */
  everyMs?: number;
}

/** What `defineJob` accepts. */
export interface JobOptions<T, R = unknown> {
  /** Names the ledger (`.batchguard/<name>.sqlite`) and the reports. Letters, digits, `.`, `_` and `-`. */
  name: string;
  /** `jsonl(path)`, `csv(path)`, any Iterable/AsyncIterable, or a function returning one (called per run). */
  source: SourceInput<T>;
  /** A record's stable identity across runs. Must return a non-empty string. */
  key: (record: T) => string;
  /** Processes one record. */
  handler: Handler<T, R>;
  /** Attempts and backoff. @default { maxAttempts: 3, backoff: exponential 200 ms ×2 up to 30 s, full jitter } */
  retry?: RetryOptions;
  /** Overrides the built-in classification: return 'retryable', 'fatal', or undefined for the built-in rules. */
  classify?: ClassifyHook;
  /** Per-attempt time limit; the attempt's `ctx.signal` aborts and its late result is discarded. @default 60000 */
  timeoutMs?: number;
  /**
   * More secrets to redact from error messages, stacks and log lines before they are stored or
   * printed, on top of the built-in patterns (URL passwords, Authorization and bearer values,
   * `api_key=`/`token=`/`password=`/`secret=` parameters, JWTs; see docs/jobs.md). A match is replaced
   * by `[redacted]`, or only its named group `secret` when it has one. @default []
   */
  redact?: readonly RegExp[];
  /**
   * Records in flight at once: a number, or a range `{ min, max }` within which the limit adapts to
   * the upstream: it starts at `min`, grows while healthy, shrinks on timeouts, 429/503 and rising
   * latency (docs/breaker.md). @default 4
   */
  concurrency?: number | ConcurrencyRange;
  /** Group-commit policy. @default { everyRecords: 1000, everyMs: 1000 } */
  checkpoint?: CheckpointOptions;
  /** Above this share of failed records (failed ÷ (succeeded + failed)) the run exits with code 1. @default 0.05 */
  maxFailureRate?: number;
  /** Above this number of failed records the run exits with code 1. @default unlimited */
  maxFailures?: number;
  /** On shutdown, how long in-flight records may take to finish before they are aborted, in ms. @default 10000 */
  shutdownGraceMs?: number;
  /** Each run stops taking records after this long (exit code 5; `run` again continues). @default no limit */
  maxDurationMs?: number;
  /** Each run starts at most this many records (exit code 5; `run` again continues). @default no limit */
  maxRecords?: number;
  /** A token bucket for the whole job: every attempt (retries included) takes a token. @default no limit */
  rateLimit?: RateLimitOptions;
  /** A bucket per key (e.g. API host or tenant), with `rateLimitKey`. A 429/Retry-After pauses that key's bucket. @default none */
  perKeyRateLimit?: RateLimitOptions;
  /** The rate-limit key of a record. @default none */
  rateLimitKey?: (record: T) => string;
  /** The fairness key of a record (e.g. tenant): with `perKeyConcurrency`, no key can take every slot. @default none */
  concurrencyKey?: (record: T) => string;
  /** Records of one `concurrencyKey` running at once. @default 1 when concurrencyKey is set */
  perKeyConcurrency?: number;
  /** A record that ran alone (as a crash suspect) each time the process died, this many times, fails with kind `crashed` and is not run again. @default 3 */
  maxCrashes?: number;
  /** Keys this record needs to have succeeded first (in this run or an earlier one). @default none */
  dependsOn?: (record: T) => readonly string[];
  /**
   * When a dependency failed: `skip` records the dependent as skipped (blocked by the failed key)
   * without calling the handler; `run` calls it anyway with `ctx.failedDependencies`. @default 'skip'
   */
  onDependencyFailure?: DependencyFailurePolicy;
  /**
   * Called before any record is read, and while the breaker probes: throw (or reject) when the
   * service the handler needs is down. Its `signal` aborts at `healthCheckPolicy.timeoutMs`.
   */
  healthCheck?: HealthCheck;
  /** Attempts, delay and time limit of the health check. @default { maxAttempts: 3, delayMs: 1000, timeoutMs: 10000 } */
  healthCheckPolicy?: HealthCheckOptions;
  /** The job-level circuit breaker (docs/breaker.md). @default enabled: opens on 20 systemic failures in a row, 50% of the last 100 records failing, or under 10% of recent attempts succeeding */
  breaker?: BreakerOptions;
  /** Recent retries may be at most `ratio` per record started (or `minRetries`). @default { ratio: 1, minRetries: 10, windowMs: 10000, enabled: true } */
  retryBudget?: RetryBudgetOptions;
  /**
   * Called with every event of the run, as `runJob`'s `onEvent` option is (progress, failures,
   * retries, the breaker, each record's success with its attempt durations, the summary): hooks
   * for the job's own logging, metrics or notifications. It may be async; one that throws or
   * rejects is counted in the summary's warnings and never breaks the run. @default none
   */
  onEvent?: EventListener;
  /** Where each succeeded record's result goes, exactly once: `jsonlOutput(path)` or your own sink. @default none */
  output?: OutputSink;
  /**
   * The ledger file: a path relative to the job file's folder, or a `file:` URL such as
   * `new URL('./state/orders.sqlite', import.meta.url)`. `--ledger` overrides it.
   * @default `.batchguard/<name>.sqlite` beside the job file
   */
  ledger?: string | URL;
  /** How many runs keep their report folder (`<ledger>.runs/<run id>/`); older ones are deleted. @default 20 */
  keepRuns?: number;
  /**
   * Alerts when failures pile up: rules (failure count, failure rate over a window, breaker opened,
   * run aborted, threshold exceeded) and where to send them (a webhook, Sentry). Sent by the CLI
   * (see docs/observability.md). @default undefined (no alerts)
   */
  alerts?: AlertOptions;
  /**
   * OpenTelemetry spans: one for the run, one per record under it, one per attempt under its
   * record, with the handler's call running inside its attempt's span so that the spans it makes
   * (an instrumented HTTP client, its own) hang under the record that caused them. Needs the
   * optional peer dependency `@opentelemetry/api` and a tracer provider the program registers;
   * without the package the run goes on untraced, with a warning (docs/observability.md).
   * @default false
   */
  tracing?: TracingOptions;
}

/** A validated job with every default applied. */
export interface Job<T = unknown, R = unknown> {
  readonly name: string;
  readonly source: Source<T>;
  readonly key: (record: T) => string;
  readonly handler: Handler<T, R>;
  readonly retry: ResolvedRetry;
  readonly classify: ClassifyHook | undefined;
  readonly timeoutMs: number;
  /** The built-in redaction patterns plus the job's `redact`. */
  readonly redact: Redactor;
  /** The number of slots: the fixed concurrency, or the top of the adaptive range. */
  readonly concurrency: number;
  /** The adaptive range, when `concurrency` was given as `{ min, max }`. */
  readonly concurrencyRange: ConcurrencyRange | undefined;
  readonly checkpoint: Readonly<Required<CheckpointOptions>>;
  readonly maxFailureRate: number;
  readonly maxFailures: number;
  readonly shutdownGraceMs: number;
  readonly output: OutputSink | undefined;
  readonly dependsOn: ((record: T) => readonly string[]) | undefined;
  readonly maxDurationMs: number | undefined;
  readonly maxCrashes: number;
  readonly rateLimit: ResolvedRateLimit | undefined;
  readonly perKeyRateLimit: ResolvedRateLimit | undefined;
  readonly rateLimitKey: ((record: T) => string) | undefined;
  readonly concurrencyKey: ((record: T) => string) | undefined;
  readonly perKeyConcurrency: number;
  readonly maxRecords: number | undefined;
  readonly healthCheck: HealthCheck | undefined;
  readonly healthCheckPolicy: ResolvedHealthCheckOptions;
  readonly breaker: ResolvedBreaker;
  readonly retryBudget: ResolvedRetryBudget;
  readonly onDependencyFailure: DependencyFailurePolicy;
  /** The job's own ledger path (relative to the job file's folder), when it names one. */
  readonly ledger: string | undefined;
  readonly keepRuns: number;
  readonly alerts: ResolvedAlerts | undefined;
  /** Tracing's settings, when the job turned it on. */
  readonly tracing: ResolvedTracing | undefined;
  readonly onEvent: EventListener | undefined;
  /** Marks a resolved job, so `defineJob(defineJob(x))` is harmless. */
  readonly resolved: true;
}

const JOB_FIELDS = [
  'name',
  'source',
  'key',
  'handler',
  'retry',
  'classify',
  'timeoutMs',
  'concurrency',
  'checkpoint',
  'maxFailureRate',
  'maxFailures',
  'shutdownGraceMs',
  'output',
  'dependsOn',
  'onDependencyFailure',
  'healthCheck',
  'healthCheckPolicy',
  'breaker',
  'retryBudget',
  'maxDurationMs',
  'maxRecords',
  'maxCrashes',
  'rateLimit',
  'perKeyRateLimit',
  'rateLimitKey',
  'concurrencyKey',
  'perKeyConcurrency',
  'redact',
  'ledger',
  'keepRuns',
  'alerts',
  'tracing',
  'onEvent',
] as const;

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Validates a job definition and applies the defaults. Throws `ConfigError` naming the field. */
export function defineJob<T, R = unknown>(options: JobOptions<T, R>): Job<T, R> {
  if ((options as unknown as Job<T, R>)?.resolved === true) return options as unknown as Job<T, R>;
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(
      `defineJob expects an object with name, source, key and handler; got ${options === null ? 'null' : typeof options}`,
    );
  }
  checkKnownKeys(options as object, 'job', JOB_FIELDS);
  if (typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
    throw new ConfigError(
      `job.name must be 1-100 letters, digits, ".", "_" or "-" (it names the ledger file); got ${JSON.stringify(options.name)}`,
      { field: 'name' },
    );
  }
  if (options.source === undefined || options.source === null) {
    throw new ConfigError(
      `job.source is required: jsonl(path), csv(path), an array, or any (async) iterable; got ${String(options.source)}`,
      { field: 'source' },
    );
  }
  checkFunction(options.key, 'key', 'a function (record) => string, e.g. key: (r) => String(r.id)');
  checkFunction(options.handler, 'handler', 'an async function (record, ctx) => result');
  if (options.classify !== undefined)
    checkFunction(options.classify, 'classify', "a function (error) => 'retryable' | 'fatal' | undefined");
  if (options.checkpoint !== undefined && !isRecord(options.checkpoint)) {
    throw new ConfigError(
      `checkpoint must be an object such as { everyRecords: 1000, everyMs: 1000 }; got ${formatValue(options.checkpoint)}`,
      { field: 'checkpoint' },
    );
  }
  const checkpoint = options.checkpoint ?? {};
  checkKnownKeys(checkpoint, 'checkpoint', ['everyRecords', 'everyMs']);
  const job: Job<T, R> = {
    name: options.name,
    source: toSource(options.source, 'source'),
    key: options.key,
    handler: options.handler,
    retry: resolveRetry(options.retry, 'retry'),
    classify: options.classify,
    timeoutMs: checkPositive(options.timeoutMs, 'timeoutMs', 60_000),
    redact: createRedactor(checkRedactPatterns(options.redact)),
    ...resolveConcurrency(options.concurrency),
    checkpoint: Object.freeze({
      everyRecords: checkInteger(checkpoint.everyRecords, 'checkpoint.everyRecords', 1000, 1, 1_000_000),
      everyMs: checkPositive(checkpoint.everyMs, 'checkpoint.everyMs', 1000),
    }),
    maxFailureRate: checkFraction(options.maxFailureRate, 'maxFailureRate', 0.05),
    maxFailures: checkInteger(options.maxFailures, 'maxFailures', Number.MAX_SAFE_INTEGER, 0, Number.MAX_SAFE_INTEGER),
    shutdownGraceMs: checkInteger(options.shutdownGraceMs, 'shutdownGraceMs', 10_000, 0, 86_400_000),
    output: checkOutput(options.output),
    dependsOn: checkDependsOn(options.dependsOn),
    onDependencyFailure: checkDependencyPolicy(options.onDependencyFailure),
    maxDurationMs: options.maxDurationMs === undefined ? undefined : checkPositive(options.maxDurationMs, 'maxDurationMs', 0),
    maxRecords:
      options.maxRecords === undefined ? undefined : checkInteger(options.maxRecords, 'maxRecords', 0, 1, Number.MAX_SAFE_INTEGER),
    maxCrashes: checkInteger(options.maxCrashes, 'maxCrashes', 3, 1, 1000),
    rateLimit: options.rateLimit === undefined ? undefined : resolveRateLimit(options.rateLimit, 'rateLimit'),
    perKeyRateLimit: options.perKeyRateLimit === undefined ? undefined : resolveRateLimit(options.perKeyRateLimit, 'perKeyRateLimit'),
    rateLimitKey: checkKeyFunction(options.rateLimitKey, 'rateLimitKey'),
    concurrencyKey: checkKeyFunction(options.concurrencyKey, 'concurrencyKey'),
    perKeyConcurrency: checkInteger(options.perKeyConcurrency, 'perKeyConcurrency', 1, 1, 10_000),
    healthCheck: checkHealthCheck(options.healthCheck),
    healthCheckPolicy: resolveHealthCheckOptions(options.healthCheckPolicy),
    breaker: resolveBreaker(options.breaker),
    retryBudget: resolveRetryBudget(options.retryBudget),
    ledger: checkLedgerOption(options.ledger),
    keepRuns: checkInteger(options.keepRuns, 'keepRuns', DEFAULT_KEEP_RUNS, 1, MAX_KEEP_RUNS),
    alerts: resolveAlerts(options.alerts),
    tracing: resolveTracing(options.tracing),
    onEvent: checkOnEvent(options.onEvent),
    resolved: true,
  };
  return Object.freeze(job);
}

function checkOutput(output: unknown): OutputSink | undefined {
  if (output === undefined) return undefined;
  const sink = output as Partial<OutputSink>;
  for (const method of ['open', 'write', 'seal', 'flush', 'close'] as const) {
    if (typeof sink?.[method] !== 'function') {
      throw new ConfigError(`job.output must be an output sink such as jsonlOutput('out/results.jsonl') (it has no ${method}() method)`, {
        field: 'output',
      });
    }
  }
  return output as OutputSink;
}

function checkDependsOn<T>(dependsOn: unknown): ((record: T) => readonly string[]) | undefined {
  if (dependsOn === undefined) return undefined;
  checkFunction(
    dependsOn,
    'dependsOn',
    'a function (record) => string[] of the keys it needs, e.g. dependsOn: (r) => r.parentId ? [r.parentId] : []',
  );
  return dependsOn as (record: T) => readonly string[];
}

function checkDependencyPolicy(policy: unknown): DependencyFailurePolicy {
  if (policy === undefined) return DependencyFailurePolicy.skip;
  const allowed = Object.values(DependencyFailurePolicy) as string[];
  if (typeof policy !== 'string' || !allowed.includes(policy)) {
    throw new ConfigError(`job.onDependencyFailure must be one of ${allowed.join(', ')}; got ${JSON.stringify(policy)}`, {
      field: 'onDependencyFailure',
    });
  }
  return policy as DependencyFailurePolicy;
}

function checkOnEvent(listener: unknown): EventListener | undefined {
  if (listener === undefined) return undefined;
  checkFunction(listener, 'onEvent', 'a function (event) => void, e.g. onEvent: (e) => { if (e.type === "record:failed") ... }');
  return listener as EventListener;
}

function checkHealthCheck(check: unknown): HealthCheck | undefined {
  if (check === undefined) return undefined;
  checkFunction(check, 'healthCheck', 'an async function (signal) => void that throws when the service is down');
  return check as HealthCheck;
}

function checkKeyFunction<T>(fn: unknown, field: string): ((record: T) => string) | undefined {
  if (fn === undefined) return undefined;
  checkFunction(fn, field, `a function (record) => string`);
  return fn as (record: T) => string;
}

/** A fixed number of slots, or an adaptive range whose top is the number of slots. */
function resolveConcurrency(value: unknown): { concurrency: number; concurrencyRange: ConcurrencyRange | undefined } {
  if (value === undefined || typeof value === 'number')
    return { concurrency: checkInteger(value, 'concurrency', 4, 1, MAX_CONCURRENCY), concurrencyRange: undefined };
  const range = resolveConcurrencyRange(value, 'concurrency');
  return { concurrency: range.max, concurrencyRange: range };
}
