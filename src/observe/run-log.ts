/**
 * A run's events as log entries: the level, the fields a log collector filters on, and the message.
 * Every entry names its event (`event: 'record:failed'`), which is also how pretty-log.ts picks
 * the line a terminal shows for it.
 *
 * Levels: a record's failure, the breaker opening and closing (an outage begins and ends) and the
 * summary's warnings are `warn`; an aborted run, an error that escaped the job's code and a run
 * over its failure threshold are `error`; retries, `ctx.log` lines and concurrency changes are
 * `debug` (many per record); the rest, the summary included, `info`.
 */
import { counted } from '../domain/counted.js';
import type { EngineEvent } from '../events/engine-event.js';
import type { Progress } from '../events/progress.js';
import type { SerializedError } from '../policy/serialize-error.js';
import type { Summary } from '../report/summary.js';
import type { Logger } from './logger.js';
import { MESSAGE_CHARS_SHOWN } from './pretty-log.js';

export interface RunLogContext {
  readonly job: string;
  /** The ledger did not exist before this run: said, so that a mistyped --ledger is noticed. */
  readonly newLedger: boolean;
}

export function logEvent(log: Logger, event: EngineEvent, context: RunLogContext): void {
  const level = EVENT_LEVELS[event.type];
  if (level === undefined) return;
  const [fields, message] = eventEntry(event, context);
  log[level](fields, message);
}

/** The fields and the message of an event's entry (the types without an entry never get here). */
function eventEntry(event: EngineEvent, context: RunLogContext): [Record<string, unknown>, string] {
  const e = { event: event.type };
  switch (event.type) {
    case 'run:started': {
      const { runId, ledger, alreadyDone, crashedRunId, rerunSelected } = event;
      // The run's id is bound to every entry from here on by the caller (`log.setBindings({ runId })`).
      const fields = { ...e, ledger, alreadyDone, crashedRunId, rerunSelected, newLedger: context.newLedger };
      if (context.newLedger) {
        return [fields, `run ${runId} started with a new ledger ${ledger} (nothing of job ${context.job} was recorded there before)`];
      }
      if (rerunSelected !== undefined) return [fields, `re-running ${rerunSelected} failed or skipped records; ledger ${ledger}`];
      if (alreadyDone > 0) {
        const crashed = crashedRunId ? ` (run ${crashedRunId} had died without finishing)` : '';
        return [fields, `resuming: ${counted(alreadyDone, 'record')} already done${crashed}; ledger ${ledger}`];
      }
      return [fields, `run ${runId} started; ledger ${ledger}`];
    }
    case 'record:retrying': {
      const { key, attempt, counted, delayMs, rule } = event;
      return [{ ...e, key, attempt, counted, delayMs, rule, error: errorFields(event.error) }, 'retrying'];
    }
    case 'record:failed': {
      const { key, fingerprint, kind, attempts, counted, rule } = event;
      return [{ ...e, key, fingerprint, kind, attempt: attempts, counted, rule, error: errorFields(event.error) }, 'record failed'];
    }
    case 'breaker:opened': {
      const { reason, description, fingerprint, failures, window } = event;
      const error = errorFields(event.error);
      return [
        { ...e, reason, description, fingerprint, failures, window, error },
        `breaker opened: ${description}; ${error.name}: ${error.message}. No new records until it recovers; records hit by the outage stay pending`,
      ];
    }
    case 'breaker:half-open':
      return [{ ...e, parked: event.parked }, `breaker half-open: probing (${counted(event.parked, 'record')} parked)`];
    case 'breaker:closed':
      return [
        { ...e, openMs: event.openMs, released: event.released },
        `breaker closed after ${(event.openMs / 1000).toFixed(1)} s; resuming ${event.released} parked records`,
      ];
    case 'concurrency:changed':
      return [{ ...e, limit: event.limit, reason: event.reason }, 'concurrency limit changed'];
    case 'run:deadline':
      return [{ ...e, reason: event.reason }, `stopping: ${event.reason}; letting the running attempts finish`];
    case 'run:waiting': {
      const { runId, pid, host, expiresAt } = event.holder;
      return [
        { ...e, holder: event.holder },
        `waiting for the ledger's lease, held by run ${runId} (pid ${pid} on ${host}), to expire at ${expiresAt}: ` +
          'a renewal meanwhile means its holder is alive, and this run is refused; Ctrl-C stops waiting, `run --take-over` takes it now',
      ];
    }
    case 'run:aborted':
      return [{ ...e, reason: event.reason }, `aborting: ${event.reason}`];
    case 'run:uncaught-error': {
      const where = event.origin === undefined ? 'outside any record' : `from ${event.origin}`;
      return [
        { ...e, origin: event.origin, error: { ...errorFields(event.error), stack: stackFrames(event.error).join('\n') } },
        `an error escaped the job's code ${where}, and no running record can be blamed for it; ` +
          `stopping (the records in flight get the grace period, what finished is saved):\n  ${stackLines(event.error)}`,
      ];
    }
    case 'record:log':
      return [{ ...e, key: event.key, ...(event.fields === undefined ? {} : { fields: event.fields }) }, event.message];
    case 'checkpoint':
    case 'attempt:ended':
    case 'record:succeeded':
    case 'record:skipped':
    case 'run:stopping':
    case 'run:finished':
      throw new Error(`${event.type} has no log entry (EVENT_LEVELS)`);
  }
}

/**
 * The level of the entry `logEvent` writes for each event type. Every type is listed, so that a new
 * one is a decision, not a silence: `undefined` for the types the progress entries and the summary
 * say instead.
 */
const EVENT_LEVELS: Readonly<Record<EngineEvent['type'], 'debug' | 'info' | 'warn' | 'error' | undefined>> = {
  'run:started': 'info',
  'record:retrying': 'debug',
  'record:failed': 'warn',
  'breaker:opened': 'warn',
  'breaker:half-open': 'info',
  'breaker:closed': 'warn',
  'concurrency:changed': 'debug',
  'run:deadline': 'info',
  'run:waiting': 'warn',
  'run:aborted': 'error',
  'run:uncaught-error': 'error',
  'record:log': 'debug',
  checkpoint: undefined,
  'attempt:ended': undefined,
  'record:succeeded': undefined,
  'record:skipped': undefined,
  'run:stopping': undefined,
  'run:finished': undefined,
};

/**
 * The event types whose entries `log` writes at its level: what the CLI asks the run for (its
 * `eventTypes`), so that no event is built only to be dropped (every success's, at the least).
 */
export function loggedEventTypes(log: Logger): EngineEvent['type'][] {
  return (Object.keys(EVENT_LEVELS) as EngineEvent['type'][]).filter((type) => {
    const level = EVENT_LEVELS[type];
    return level !== undefined && log.isLevelEnabled(level);
  });
}

/** What {@link logSummary} reads of a run's summary, or of a worker's (which may carry the shared run's abort reason). */
export type LoggedSummary = Pick<Summary, 'runId' | 'status' | 'failed' | 'failureRate' | 'warnings'> & {
  readonly reason: string | undefined;
  readonly abortReason?: string | undefined;
};

/**
 * The end of a run: its warnings, the failure threshold when it was crossed, and the summary as one
 * entry carrying every figure of the `--json` summary.
 */
export function logSummary(log: Logger, summary: LoggedSummary): void {
  for (const warning of summary.warnings) log.warn({ event: 'run:warning' }, warning);
  if (summary.status === 'threshold-exceeded') {
    log.error(
      { event: 'run:threshold-exceeded', failed: summary.failed, failureRate: summary.failureRate, reason: summary.reason },
      `failure threshold exceeded: ${summary.reason ?? ''}`,
    );
  }
  const why = summary.abortReason ?? summary.reason;
  log.info({ event: 'run:summary', summary }, `run ${summary.runId} ${summary.status}${why === undefined ? '' : `: ${why}`}`);
}

/** The figures a progress line shows (src/cli/progress-line.ts computes them). */
export interface ProgressFigures {
  /** Records with an outcome: done before this run, and in it. */
  readonly done: number;
  /** The records there are, when known: counted once the source is read to its end, else estimated from the bytes read. */
  readonly total: number | undefined;
  /** True when `total` is an estimate from the bytes read. */
  readonly estimated: boolean;
  /** 0–100, when a total is known. */
  readonly percent: number | undefined;
  readonly recordsPerSecond: number;
  /** Seconds until every record is done at the current rate, when it can be told. */
  readonly etaSeconds: number | undefined;
}

/** A progress entry, when stderr is not a terminal: the figures of the plain progress line. */
export function logProgress(log: Logger, p: Progress, f: ProgressFigures): void {
  const { succeeded, failed, skipped, retrying, inFlight, concurrencyLimit, breaker, careful, stopping } = p;
  log.info(
    {
      event: 'progress',
      done: f.done,
      total: f.total,
      estimated: f.estimated,
      percent: f.percent === undefined ? undefined : roundTo(f.percent, 1),
      recordsPerSecond: roundTo(f.recordsPerSecond, 1),
      etaSeconds: f.etaSeconds === undefined ? undefined : Math.round(f.etaSeconds),
      succeeded,
      failed,
      skipped,
      retrying,
      inFlight,
      concurrencyLimit,
      breaker,
      careful,
      stopping,
    },
    'progress',
  );
}

function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return Math.round(value * scale) / scale;
}

/** What an entry says of an error: its name, code, HTTP status and message (cut; the report has it all). */
function errorFields(error: SerializedError): { name: string; message: string; code?: string; status?: number } {
  return {
    name: error.name,
    message: error.message.length > MESSAGE_CHARS_SHOWN ? `${error.message.slice(0, MESSAGE_CHARS_SHOWN - 1)}…` : error.message,
    ...(error.code === undefined ? {} : { code: error.code }),
    ...(error.status === undefined ? {} : { status: error.status }),
  };
}

/** Stack frames shown for an error that escaped the job's code. */
const STACK_FRAMES_SHOWN = 5;

function stackFrames(error: SerializedError): string[] {
  return (error.stack ?? '')
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .slice(0, STACK_FRAMES_SHOWN)
    .map((line) => line.trim());
}

/** `name: message` and the first frames of the stack, indented: where the escaped error came from. */
function stackLines(error: SerializedError): string {
  return [`${error.name}: ${error.message}`, ...stackFrames(error).map((line) => `  ${line}`)].join('\n  ');
}
