/**
 * What the record executor needs from the run: the job, time, where outcomes go, and the parts
 * that decide around an attempt (the retry budget, the breaker, rate limits, adaptive concurrency).
 */
import type { Clock, Random } from '../clock.js';
import type { Job } from '../job.js';
import type { RetryBudget } from '../policy/retry-budget.js';
import type { SampleKind } from '../policy/concurrency-limit.js';
import type { EngineEvents } from './events.js';
import type { AttemptsEnd } from '../domain/outcome.js';
import type { StepStore } from './durable-step.js';
import type { AttemptRunner } from './handler-call.js';
import type { Phase, OpenRecord } from './open-record.js';
import type { EscapeListener } from './escaped-errors.js';
import type { LazySerializedError } from './stored-error.js';

export interface ExecutorDeps {
  readonly job: Job<any, any>;
  readonly clock: Clock;
  readonly random: Random;
  readonly events: EngineEvents;
  readonly stats: { attempts: number; retries: number; retriesDeferred: number };
  /**
   * Moves a record to another phase: the one place where phases change (the run's dispatcher takes
   * and gives back slots there).
   */
  readonly move: (entry: OpenRecord, phase: Phase) => void;
  /** A record succeeded (the hot path: no outcome object is built). */
  /** Returns false when the result was refused (the record then failed instead). */
  readonly onSucceeded: (entry: OpenRecord, value: unknown) => boolean;
  /** A record failed, or stays pending (`outcome.status === 'pending'`). */
  readonly onOutcome: (entry: OpenRecord, outcome: AttemptsEnd) => void;
  /** True once the run is stopping: no new attempt starts, a record that would retry stays pending. */
  readonly stopping: () => boolean;
  /** Retries may be at most a share of recent attempts; undefined when the job turned the budget off. */
  readonly budget: RetryBudget | undefined;
  /** The breaker, fed with every attempt outcome; it decides when a record is parked instead. */
  readonly breaker: {
    readonly closed: boolean;
    /** Whether this record's attempt is the breaker's probe (it runs while the breaker is not closed). */
    isProbe(entry: OpenRecord): boolean;
    succeeded(entry: OpenRecord): void;
    /** `group` computes the failure's group: only when the breaker reads it (see Signal in breaker.ts). */
    systemicFailure(entry: OpenRecord, group: () => string, error: LazySerializedError, how: SystemicFailure): boolean;
    hold(entry: OpenRecord, ends: { fail(): void; park(): void; pend(): void }): boolean;
  };
  /** A re-run's record: the group of the failure it was selected for (run-setup.ts). */
  readonly recordedFailure?: ((seq: number) => string | undefined) | undefined;
  /** Token buckets: every attempt takes a token; a Retry-After pauses the record's key. */
  readonly limiter?:
    { tryTake(key: string | undefined, now: number): number; slowDown(key: string | undefined, untilMs: number): void } | undefined;
  /** A record hit by an outage: back to pending until the breaker closes. */
  readonly onParked: (entry: OpenRecord) => void;
  /** A record waits `waitMs` for a rate-limit token without its slot; the engine calls attempt() again. */
  readonly onTokenWait?: (entry: OpenRecord, waitMs: number) => void;
  /**
   * A record waits `delayMs` for its next attempt (a retry delay, the retry budget) without its
   * slot; the engine calls attempt() again. Without it, the executor waits on a timer itself.
   */
  readonly onRetryWait?: (entry: OpenRecord, delayMs: number) => void;
  /**
   * A retry ended (an attempt after the first counted one): `served` when it succeeded, false when
   * it failed with an error that may be systemic. The dispatcher widens or narrows how many records
   * may wait to retry (retry-room.ts).
   */
  readonly onRetryEnded?: (served: boolean) => void;
  /**
   * An attempt ended, with what it says about load (adaptive concurrency); called while the record
   * still holds its slot. Only a run with `concurrency: { min, max }` sets it: it reads the clock.
   */
  readonly onAttemptEnded?: (entry: OpenRecord, kind: SampleKind) => void;
  /** A record is held (phase `held`) until the breaker decides whether its failure was an outage. */
  readonly onHeld?: (entry: OpenRecord) => void;
  /**
   * The run, told about errors that escaped a handler after its attempt had ended. With it, each
   * handler call runs in an attempt scope, so that an error escaping a running attempt fails it
   * (escaped-errors.ts).
   */
  readonly escapes?: EscapeListener;
  /** Where `ctx.step` keeps completed steps; without it a step is a plain call. */
  readonly steps?: StepStore;
  /** Runs each handler call in the scope it returns (tracing: the attempt's span); without it the handler is called directly. */
  readonly runAttempt?: AttemptRunner;
}

/** What the breaker is told about a systemic failure besides its error. */
export interface SystemicFailure {
  /** It ends the record (its attempts are used up). */
  readonly final: boolean;
  /** The record's first failure, and it will retry: no evidence on its own. */
  readonly provisional: boolean;
  /** The record's first call in this run: it had not failed before. */
  readonly fresh: boolean;
  /** A re-run's record failing as it failed when it was selected (the same group): its own failure. */
  readonly repeated: boolean;
}
