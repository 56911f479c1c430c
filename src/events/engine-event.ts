/**
 * What the engine tells the outside world: the typed events of a run. The library never prints:
 * the CLI, metrics, alerts and a job's own `onEvent` subscribe. In a folder of its own, below the job and the engine, so
 * that the subscribers (src/observe/) name the events without importing the engine.
 */
import type { SerializedError } from '../policy/serialize-error.js';
import type { FailureKind } from '../domain/status.js';
import type { BreakerTripReason } from '../policy/breaker.js';
import type { Summary } from '../report/summary.js';

export type EngineEvent =
  | {
      readonly type: 'run:started';
      readonly runId: string;
      readonly ledger: string;
      readonly alreadyDone: number;
      readonly resumedFrom: number | undefined;
      readonly crashedRunId: string | undefined;
      /** For a re-run: how many stored failures (and skips) it selected. */
      readonly rerunSelected: number | undefined;
    }
  | {
      readonly type: 'record:retrying';
      readonly key: string;
      /** The call that failed (`ctx.attempt`: every call of a record has its own number). */
      readonly attempt: number;
      /** The calls that count against `maxAttempts` (not those before an outage parked the record). */
      readonly counted: number;
      readonly delayMs: number;
      readonly error: SerializedError;
      readonly rule: string;
    }
  | {
      readonly type: 'record:failed';
      readonly key: string;
      readonly kind: FailureKind;
      /** Calls of the handler for this record in this run. */
      readonly attempts: number;
      /** The calls that counted against `maxAttempts` (not those before an outage parked the record). */
      readonly counted: number;
      readonly error: SerializedError;
      readonly rule: string;
      /** The failure group (as `failures --error` and the summary's top errors name it). */
      readonly fingerprint: string;
    }
  /**
   * One handler call ended (the record may still retry). Built only when a listener wants it (see
   * the run option `eventTypes`): it costs a clock read on the success path.
   */
  | {
      readonly type: 'attempt:ended';
      readonly key: string;
      readonly attempt: number;
      readonly durationMs: number;
      readonly outcome: 'succeeded' | 'failed';
      /** What the call threw or rejected with (redacted), when `outcome` is `failed`. */
      readonly error?: SerializedError;
      /** When `outcome` is `failed`: whether the call ran out of `timeoutMs` (`error` is then the TimeoutError). */
      readonly timedOut?: boolean;
    }
  /**
   * A record succeeded (its result, if any, accepted by the output sink). `attemptDurationsMs` has one
   * entry per attempt since the record started (or since the breaker parked it), the last one the
   * success. Built only when a listener wants it.
   */
  | {
      readonly type: 'record:succeeded';
      readonly key: string;
      readonly attempts: number;
      readonly attemptDurationsMs: readonly number[];
    }
  | { readonly type: 'record:skipped'; readonly key: string; readonly blockedBy: readonly string[] }
  | {
      readonly type: 'breaker:opened';
      readonly reason: BreakerTripReason;
      readonly description: string;
      readonly fingerprint: string | undefined;
      readonly failures: number;
      readonly window: number;
      readonly error: SerializedError;
    }
  | { readonly type: 'breaker:half-open'; readonly parked: number }
  /** The adaptive concurrency limit moved (`concurrency: { min, max }`): down on overload or rising latency, up while healthy. */
  | { readonly type: 'concurrency:changed'; readonly limit: number; readonly reason: 'overload' | 'latency' | 'healthy' }
  | { readonly type: 'breaker:closed'; readonly openMs: number; readonly released: number }
  | { readonly type: 'run:aborted'; readonly reason: string }
  | { readonly type: 'run:deadline'; readonly reason: string }
  /**
   * The run waits, before its first record, for another run's lease on the ledger to expire (its
   * holder stopped renewing it, or has not renewed it yet: a renewal refuses this run instead).
   */
  | {
      readonly type: 'run:waiting';
      readonly holder: { readonly runId: string; readonly pid: number; readonly host: string; readonly expiresAt: string };
    }
  /** An error escaped the job's code and no running record could be blamed: the run stops. `origin` names the record it came from, when known. */
  | { readonly type: 'run:uncaught-error'; readonly error: SerializedError; readonly origin: string | undefined }
  | { readonly type: 'record:log'; readonly key: string; readonly message: string; readonly fields: Record<string, unknown> | undefined }
  /** A group commit was written; `durationMs` is how long the ledger (and output sink) took. */
  | { readonly type: 'checkpoint'; readonly committed: number; readonly watermark: number | undefined; readonly durationMs: number }
  | { readonly type: 'run:stopping'; readonly reason: string }
  | { readonly type: 'run:finished'; readonly summary: Summary };

/** A subscriber of a run's events. It may be async; what it throws or rejects never reaches the run. */
export type EventListener = (event: EngineEvent) => unknown;
