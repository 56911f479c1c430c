/**
 * Options of one run (as opposed to the job's own definition): where the ledger is, overrides
 * from the command line, and the hooks the CLI and tests plug in.
 */
import { systemClock, type Clock, type Random } from '../clock.js';
import type { Job } from '../job.js';
import { MAX_CONCURRENCY, type ConcurrencyRange } from '../policy/concurrency-limit.js';
import { MAX_KEEP_RUNS } from '../report/prune-run-reports.js';
import { resolveDeadline, type DeadlineOptions } from '../policy/deadline.js';
import {
  checkBoolean,
  checkClock,
  checkFraction,
  checkFunction,
  checkInteger,
  checkKnownKeys,
  checkOneOf,
  checkSignal,
  invalid,
} from '../validation/check.js';
import type { FailureKind } from '../ledger/ledger.js';
import { checkPgSchema, ledgerFlagOf, resolveLedgerLocation } from '../ledger/ledger-location.js';
import type { LedgerLocation } from '../ledger/open-ledger.js';
import type { EventListener } from './events.js';
import { EngineEventType } from './engine-event-type.js';
import type { SharedBreaker } from './shared-breaker.js';
import { resolveLeaseOptions, type LeaseOptions, type ResolvedLeaseOptions } from '../ledger/lease.js';

/** What `rerun` re-processes: the failed (and skipped) records, narrowed by every field given. */
export interface RerunOptions {
  /** Only the failures of this error group (a fingerprint from `failures` or the summary). */
  fingerprint?: string;
  /** Only the failures of this kind. */
  kind?: FailureKind;
  /** Only these keys (as `failures --format keys` prints them). Keys not in the source are reported. */
  keys?: readonly string[];
}

export interface RunOptions {
  /**
   * The ledger: a SQLite file path relative to `cwd`, `'memory'` (nothing kept after the run, no
   * file created, no run reports written), or a `Ledger` the caller opened (and closes). Overrides
   * the job's `ledger`.
   * @default the job's `ledger`, else `.batchguard/<job name>.sqlite` beside `jobFile` (under `cwd` without one)
   */
  ledger?: LedgerLocation;
  /**
   * The PostgreSQL schema of the ledger's tables, when `ledger` is a `postgres:` URL (created if
   * missing). @default 'batchguard'
   */
  pgSchema?: string;
  /** Overrides the job's `keepRuns`: how many run report folders are kept. */
  keepRuns?: number;
  /** The command printed in the `next` hint, e.g. `npx batchguard`. @default 'batchguard' */
  command?: string;
  /** Overrides the job's `concurrency`. */
  concurrency?: number;
  /** Overrides the job's `maxFailureRate`. */
  maxFailureRate?: number;
  /** Overrides the job's `maxFailures`. */
  maxFailures?: number;
  /** Re-run stored failures instead of processing what is not done yet. */
  rerun?: RerunOptions;
  /** Start at most this many records in this run, then stop (status `stopped`, exit code 5, resumable with `run`). */
  maxRecords?: number;
  /** Stop taking records this long after the run started (status `stopped`, exit code 5). */
  maxDurationMs?: number;
  /** Stop taking records at this time (epoch ms; the CLI's `--until 06:00` computes it). */
  untilMs?: number;
  /** Resume even though the source changed since the ledger last read it. @default false */
  acceptDrift?: boolean;
  /** The run lease: how long it lasts without renewal and how often it is renewed (docs/leases.md). */
  lease?: LeaseOptions;
  /**
   * Take the ledger even from a run whose lease has not expired. That run, if it is alive, stops
   * at its next commit without writing; use it only when that run cannot be stopped. @default false
   */
  takeOver?: boolean;
  /**
   * Run each handler call in an async scope naming its record, so that an error escaping the
   * handler (a throw in a timer callback, an unhandled rejection) fails that record. Without it,
   * every such error stops the run (status `uncaught-error`). The scope turns on Node's promise
   * hooks, which costs a no-op handler a large share of its throughput (`npm run bench:escapes`)
   * and a handler doing I/O next to nothing. @default true
   */
  attributeEscapes?: boolean;
  /** Aborting it stops the run gracefully, as the first Ctrl-C does. */
  signal?: AbortSignal;
  /** Receives the engine's events (progress, retries, failures, checkpoints): every type, or those of `eventTypes`. */
  onEvent?: EventListener;
  /**
   * The event types `onEvent` is given. Events that no listener wants are not built: a listener
   * that only shows failures spares every success its `attempt:ended` and `record:succeeded`
   * (a clock read, two objects and an array). @default every type
   */
  eventTypes?: readonly EngineEventType[];
  /** The job file: the default ledger is beside it, and printed commands name it. */
  jobFile?: string;
  /** The folder relative paths are resolved against. @default process.cwd() */
  cwd?: string;
  /** Injected time. @default the system clock */
  clock?: Clock;
  /** Injected randomness for jitter. @default Math.random */
  random?: Random;
  /**
   * The breaker this run shares with other processes: set by `run --worker` for each chunk's run
   * (docs/workers.md). Without it (the default), the run's breaker decides alone.
   */
  sharedBreaker?: SharedBreaker;
}

export interface ResolvedRunOptions {
  /** The resolved ledger path, `'memory'`, or the caller's ledger. */
  readonly ledger: LedgerLocation;
  /** The PostgreSQL ledger's schema (checked). */
  readonly pgSchema: string;
  readonly keepRuns: number;
  /** The CLI command to print in hints (`batchguard` or `npx batchguard`). */
  readonly command: string;
  readonly concurrency: number;
  /** The job's adaptive range, unless the run fixed `concurrency` (then the limit is that number). */
  readonly concurrencyRange: ConcurrencyRange | undefined;
  readonly maxFailureRate: number;
  readonly maxFailures: number;
  readonly acceptDrift: boolean;
  readonly lease: ResolvedLeaseOptions;
  readonly takeOver: boolean;
  readonly attributeEscapes: boolean;
  readonly rerun: RerunOptions | undefined;
  readonly deadline: { readonly maxRecords?: number; readonly maxDurationMs?: number; readonly untilMs?: number };
  readonly signal: AbortSignal | undefined;
  readonly onEvent: EventListener | undefined;
  readonly eventTypes: readonly EngineEventType[] | undefined;
  readonly jobFile: string;
  /** The `--ledger` value to repeat in printed commands, when one was given. */
  readonly ledgerFlag: string | undefined;
  readonly clock: Clock;
  readonly random: Random;
  readonly sharedBreaker: SharedBreaker | undefined;
}

const RUN_FIELDS = [
  'ledger',
  'pgSchema',
  'concurrency',
  'maxFailureRate',
  'maxFailures',
  'acceptDrift',
  'lease',
  'takeOver',
  'attributeEscapes',
  'rerun',
  'maxRecords',
  'maxDurationMs',
  'untilMs',
  'signal',
  'onEvent',
  'eventTypes',
  'jobFile',
  'cwd',
  'clock',
  'random',
  'keepRuns',
  'command',
  'sharedBreaker',
] as const;

export function resolveRunOptions<T, R>(job: Job<T, R>, options: RunOptions = {}): ResolvedRunOptions {
  checkKnownKeys(options, 'runOptions', RUN_FIELDS);
  const cwd = options.cwd ?? process.cwd();
  return Object.freeze({
    ledger:
      typeof options.ledger === 'object' && options.ledger !== null
        ? options.ledger
        : resolveLedgerLocation({ jobName: job.name, flag: options.ledger, jobLedger: job.ledger, jobFile: options.jobFile, cwd }),
    pgSchema: checkPgSchema(options.pgSchema, 'runOptions.pgSchema'),
    keepRuns: checkInteger(options.keepRuns, 'keepRuns', job.keepRuns, 1, MAX_KEEP_RUNS),
    command: options.command ?? 'batchguard',
    concurrency: checkInteger(options.concurrency, 'concurrency', job.concurrency, 1, MAX_CONCURRENCY),
    concurrencyRange: options.concurrency === undefined ? job.concurrencyRange : undefined,
    maxFailureRate: checkFraction(options.maxFailureRate, 'maxFailureRate', job.maxFailureRate),
    maxFailures: checkInteger(options.maxFailures, 'maxFailures', job.maxFailures, 0, Number.MAX_SAFE_INTEGER),
    acceptDrift: checkBoolean(options.acceptDrift, false, 'runOptions.acceptDrift'),
    lease: resolveLeaseOptions(options.lease, 'runOptions.lease'),
    takeOver: checkBoolean(options.takeOver, false, 'runOptions.takeOver'),
    attributeEscapes: checkBoolean(options.attributeEscapes, true, 'runOptions.attributeEscapes'),
    rerun: options.rerun,
    // The run's own limits win over the job's; checked here, before the ledger is opened, so that
    // a bad one leaves no run behind it.
    deadline: checkedDeadline({
      maxRecords: options.maxRecords ?? job.maxRecords,
      maxDurationMs: options.maxDurationMs ?? job.maxDurationMs,
      untilMs: options.untilMs,
    }),
    signal: checkSignal(options.signal, 'runOptions.signal'),
    onEvent: checkHook(options.onEvent, 'runOptions.onEvent', 'a function (event) => void'),
    eventTypes: checkEventTypes(options.eventTypes),
    jobFile: options.jobFile ?? '<job-file>',
    // Repeated in printed hints: a database URL loses its password, and names its schema.
    ledgerFlag: typeof options.ledger === 'string' ? ledgerFlagOf(options.ledger, options.pgSchema) : undefined,
    clock: options.clock === undefined ? systemClock : checkClock(options.clock, 'runOptions.clock'),
    random: checkHook(options.random, 'runOptions.random', 'a function () => number in [0, 1)') ?? Math.random,
    sharedBreaker: options.sharedBreaker,
  });
}

// Hooks are called deep in a run, where a wrong type would be a TypeError naming nothing (or, for
// onEvent, a warning in the summary): they are checked here, like every other option.
function checkHook<F>(value: F | undefined, field: string, expected: string): F | undefined {
  if (value !== undefined) checkFunction(value, field, expected);
  return value;
}

const EVENT_TYPES: readonly EngineEventType[] = Object.values(EngineEventType);

/** `eventTypes`: undefined (every type), or a list of known event types, each checked. */
function checkEventTypes(value: unknown): readonly EngineEventType[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value)) throw invalid('runOptions.eventTypes', "must be an array of event types such as ['record:failed']", value);
  return Object.freeze(
    value.map((type: unknown, i) => {
      const field = `runOptions.eventTypes[${i}]`;
      if (type === undefined) throw invalid(field, `must be one of ${EVENT_TYPES.join(', ')}`, type);
      return checkOneOf(type, EngineEventType.runStarted, field, EVENT_TYPES);
    }),
  );
}

/** The deadline's limits as given, once resolveDeadline (which the run calls at its start) takes them. */
function checkedDeadline<T extends DeadlineOptions>(deadline: T): T {
  resolveDeadline(deadline, 0);
  return deadline;
}
