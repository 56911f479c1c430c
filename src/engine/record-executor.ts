/**
 * Takes records through their attempts: call, classify, decide, wait, call again. Every way a
 * record can end is an Outcome handed to `onOutcome`; nothing a handler does escapes.
 *
 * Written with callbacks, not one async function per record: the success path of an attempt is
 * one `.then` on the handler's promise. Timeouts are enforced by a sweep over the records in
 * flight (see `sweep`), not by one timer per attempt.
 */
import { BatchguardError, TimeoutError } from '../errors.js';
import { FailureKind } from '../domain/status.js';
import { classifyError } from '../policy/classify.js';
import { failureFingerprint, failureGroup } from '../policy/fingerprint.js';
import { decideRetry, type RetryDecision } from '../policy/retry.js';
import { retryAfterMs } from '../policy/retry-after.js';
import type { SerializedError } from '../policy/serialize-error.js';
import { HeldErrors, LazySerializedError, safeIdentity, safeSerialize } from './stored-error.js';
import { AttemptContext, type AttemptOwner, type AttemptShared } from './attempt-context.js';
import { inAttempt } from './escaped-errors.js';
import { callHandler, isThenable } from './handler-call.js';
import { thrownSummary, withCause } from '../policy/error-fields.js';
import { failureSample, SampleKind } from '../policy/concurrency-limit.js';
import type { AttemptsEnd } from '../domain/outcome.js';
import { Phase, retryState, storedHistory, type FailedAttempt, type OpenRecord, type RetryState } from './open-record.js';
import { RunningList } from './running-list.js';
import type { ExecutorDeps } from './executor-deps.js';

export class RecordExecutor implements AttemptOwner {
  /** The attempts running now (at most the concurrency): what the timeout sweep looks at. */
  private readonly running = new RunningList();

  /**
   * Whether a listener wants the events a success builds (EngineEvents.wants): a run whose
   * listeners only show failures spares each success a clock read and the events' objects.
   */
  private readonly emitsAttemptEnded: boolean;
  private readonly emitsSucceeded: boolean;
  /** Whether a listener wants `record:retrying`, which carries the serialized error that a retry otherwise defers. */
  private readonly emitsRetrying: boolean;
  /** What every attempt's `ctx` shares. */
  private readonly shared: AttemptShared;
  /** The thrown values the records' histories hold unserialised, at most MAX_HELD_ERRORS. */
  private readonly heldErrors = new HeldErrors();

  constructor(private readonly deps: ExecutorDeps) {
    this.emitsAttemptEnded = deps.events.wants('attempt:ended');
    this.emitsSucceeded = deps.events.wants('record:succeeded');
    this.emitsRetrying = deps.events.wants('record:retrying');
    this.shared = { jobName: deps.job.name, events: deps.events, stepStore: deps.steps, owner: this, escapes: deps.escapes };
  }

  /**
   * Starts the record's next attempt; with `noted`, the handler is called once it resolved (the
   * crash note covering the attempt is stored: crash-guard.ts). A note that fails stops the run,
   * which abandons the attempt (run.ts); the handler is not called.
   */
  attempt(entry: OpenRecord, noted?: Promise<void>): void {
    const { clock, stats } = this.deps;
    if (entry.retry) entry.retry.cancelRetry = undefined;
    if (this.deps.stopping()) {
      this.pending(entry);
      return;
    }
    if (!this.deps.breaker.closed && !this.deps.breaker.isProbe(entry)) {
      this.park(entry);
      return;
    }
    // One clock read per attempt: it is on the hot path.
    const now = clock.now();
    const budget = this.deps.budget;
    // A retry asks the budget before it takes a rate-limit token: a refusal must not burn one.
    const retrying = entry.counted > 0 && !this.deps.breaker.isProbe(entry);
    if (retrying && budget && !budget.mayRetry(now)) {
      // Over the retry budget: ask again when the window has moved.
      const retry = entry.retry as RetryState;
      if (!retry.deferred) {
        retry.deferred = true;
        stats.retriesDeferred++;
      }
      this.waitToRetry(entry, budget.waitMs);
      return;
    }
    const limiter = this.deps.limiter;
    if (limiter) {
      const waitMs = limiter.tryTake(entry.rateKey, now);
      if (waitMs > 0 && this.deps.onTokenWait) {
        // Gives its slot back while it waits, so that records of other keys keep flowing.
        this.deps.onTokenWait(entry, waitMs);
        return;
      }
      if (waitMs > 0) {
        this.waitToRetry(entry, waitMs);
        return;
      }
    }
    if (budget) {
      if (entry.counted === 0) budget.recordAttempt(now);
      else if (retrying) budget.retryStarted(now);
    }
    entry.attempt++;
    entry.counted++;
    stats.attempts++;
    const generation = ++entry.generation;
    if (entry.counted === 1) entry.firstAttemptAtMs = now;
    entry.attemptStartedAtMs = now;
    this.deps.move(entry, Phase.running);
    this.running.add(entry);
    const ctx = new AttemptContext(entry, generation, this.shared);
    entry.ctx = ctx;
    if (noted === undefined) this.call(entry, generation, ctx);
    else
      noted.then(
        () => {
          if (generation === entry.generation && entry.phase === Phase.running) this.call(entry, generation, ctx);
        },
        () => {
          if (generation === entry.generation && entry.phase === Phase.running) this.abandon(entry);
        },
      );
  }

  /** Calls the handler for the attempt `generation` of `entry`, and takes its result or error. */
  private call(entry: OpenRecord, generation: number, ctx: AttemptContext): void {
    const { job } = this.deps;
    let returned: unknown;
    try {
      const { escapes, runAttempt } = this.deps;
      returned = runAttempt
        ? callHandler(job, entry.record, ctx, escapes !== undefined, runAttempt)
        : escapes
          ? inAttempt(ctx, job.handler, entry.record, ctx)
          : job.handler(entry.record, ctx);
      // Inside the try: reading `then` can throw (a getter, a revoked proxy), and so can a thenable's `then`.
      if (isThenable(returned)) {
        returned.then(
          (value) => this.succeeded(entry, generation, value),
          (error: unknown) => this.failed(entry, generation, error, false),
        );
        return;
      }
    } catch (error) {
      this.failed(entry, generation, error, false);
      return;
    }
    this.succeeded(entry, generation, returned);
  }

  /** An error escaped the attempt `generation` of `entry`: it fails the attempt, if that still runs. */
  escaped(entry: OpenRecord, generation: number, error: unknown): boolean {
    if (generation !== entry.generation || entry.phase !== Phase.running) return false;
    const ctx = entry.ctx;
    this.failed(entry, generation, error, false);
    ctx?.abort(error);
    return true;
  }

  /**
   * The outcome of a record whose handler succeeded but whose result the output sink refused (a
   * BigInt, a circular object, a `toJSON` that throws): failed, `fatal`, with the sink's error as
   * the cause. Another attempt would return the same result.
   */
  unwritable(entry: OpenRecord, sinkError: unknown): AttemptsEnd {
    const { job, clock } = this.deps;
    const error = new BatchguardError(
      'RESULT_UNWRITABLE',
      `the handler's result could not be written to ${job.output?.description ?? 'the output'}: ${thrownSummary(sinkError)}`,
      { cause: sinkError },
    );
    const serialized = safeSerialize(error, job.redact);
    const durationMs = clock.now() - entry.attemptStartedAtMs;
    retryState(entry).history.push({ attempt: entry.attempt, durationMs, error: LazySerializedError.of(serialized) });
    return this.failedOutcome(entry, FailureKind.fatal, serialized, 'unwritable-result');
  }

  /** Times out every running attempt past its deadline. Called on a timer by the engine. */
  sweep(): void {
    const now = this.deps.clock.now();
    const timeoutMs = this.deps.job.timeoutMs;
    for (const entry of this.running.snapshot()) {
      if (entry.phase === Phase.running && now - entry.attemptStartedAtMs >= timeoutMs) {
        const error = new TimeoutError(timeoutMs);
        const ctx = entry.ctx;
        this.failed(entry, entry.generation, error, true);
        ctx?.abort(error);
      }
    }
  }

  /** Ends the record at once without an outcome: the run is stopping (its grace period is over). */
  abandon(entry: OpenRecord): void {
    if (entry.phase === Phase.running) {
      entry.generation++;
      this.running.delete(entry);
      entry.ctx?.abort(new BatchguardError('STOPPED', 'the run stopped before this attempt finished'));
      this.pending(entry);
    } else if (entry.retry?.cancelRetry) {
      entry.retry.cancelRetry();
      entry.retry.cancelRetry = undefined;
      this.pending(entry);
    }
  }

  private succeeded(entry: OpenRecord, generation: number, value: unknown): void {
    if (generation !== entry.generation || entry.phase !== Phase.running) return;
    this.running.delete(entry);
    entry.generation++;
    const { events } = this.deps;
    const durationMs = this.emitsAttemptEnded || this.emitsSucceeded ? this.deps.clock.now() - entry.attemptStartedAtMs : 0;
    if (this.emitsAttemptEnded)
      events.emit({ type: 'attempt:ended', key: entry.key, attempt: entry.attempt, durationMs, outcome: 'succeeded' });
    this.deps.onAttemptEnded?.(entry, SampleKind.ok);
    // A retry that succeeded: the service serves retries, the budget may grant more.
    if (entry.counted > 1) {
      this.deps.budget?.retrySucceeded(this.deps.clock.now());
      this.deps.onRetryEnded?.(true);
    }
    this.deps.breaker.succeeded(entry);
    this.deps.move(entry, Phase.done);
    entry.record = undefined;
    this.releaseHeld(entry);
    if (this.deps.onSucceeded(entry, value) && this.emitsSucceeded) {
      events.emit({
        type: 'record:succeeded',
        key: entry.key,
        attempts: entry.attempt,
        attemptDurationsMs: attemptDurations(entry, durationMs),
      });
    }
  }

  private failed(entry: OpenRecord, generation: number, error: unknown, timedOut: boolean): void {
    if (generation !== entry.generation || entry.phase !== Phase.running) return;
    const { job, clock, events, stats } = this.deps;
    this.running.delete(entry);
    entry.generation++;
    const durationMs = clock.now() - entry.attemptStartedAtMs;
    // Serialized once when someone listens: the event carries it, and the breaker and the outcome reuse it.
    const handlerFailure = this.emitsAttemptEnded ? safeSerialize(error, job.redact) : undefined;
    if (handlerFailure) {
      events.emit({
        type: 'attempt:ended',
        key: entry.key,
        attempt: entry.attempt,
        durationMs,
        outcome: 'failed',
        error: handlerFailure,
        timedOut,
      });
    }
    const { classification, rule } = classifyError(error, job.classify);
    // A record-specific (fatal) error still means the upstream answered in time.
    this.deps.onAttemptEnded?.(entry, classification === 'fatal' && !timedOut ? SampleKind.ok : failureSample(error, timedOut));
    const handlerError = error;
    let decision: RetryDecision;
    try {
      decision = decideRetry(
        job.retry,
        {
          // Only the attempts since the record last ran count: an outage that parked it used none.
          attempt: entry.counted,
          firstAttemptAtMs: entry.firstAttemptAtMs,
          nowMs: clock.now(),
          previousDelayMs: entry.retry?.previousDelayMs ?? 0,
          error,
          classification,
        },
        this.deps.random,
      );
    } catch (policyError) {
      // A user backoff function that returns nonsense: the record fails, naming why, and the
      // handler's error is kept as the cause (the policy error is a fresh ConfigError per call).
      decision = { retry: false, reason: 'fatal' };
      error = withCause(policyError, error);
    }
    const systemic = timedOut || classification === 'retryable';
    if (systemic && entry.counted > 1) this.deps.onRetryEnded?.(false);
    // Serialised when first needed (stored-error.ts): a retry that succeeds never needs it.
    const failure = handlerFailure ? LazySerializedError.of(handlerFailure) : new LazySerializedError(handlerError, job.redact);
    if (systemic) {
      // The group this failure would have if it ended the record, so the breaker's dominant error is a
      // failure group: computed from what a fingerprint reads of the error, not its whole serialization,
      // and only when the breaker reads it (a record's first failure, which retries, it reads only on a trip).
      const kind = timedOut ? FailureKind.timeout : FailureKind.exhausted;
      const final = !decision.retry;
      const group = () => failureFingerprint(handlerFailure ?? safeIdentity(handlerError), { kind, rule });
      const recorded = this.deps.recordedFailure?.(entry.position.seq);
      if (
        this.deps.breaker.systemicFailure(entry, group, failure, {
          final,
          provisional: !final && entry.counted === 1,
          fresh: entry.attempt === 1,
          repeated: recorded !== undefined && recorded === group(),
        })
      ) {
        this.park(entry);
        return;
      }
    } else if (this.deps.breaker.isProbe(entry)) {
      // A record-specific error still means the service answered: a successful probe.
      this.deps.breaker.succeeded(entry);
    }
    if (this.deps.limiter) {
      // The service said when to come back: that pauses every record of its key, not just this one.
      // No longer than the job waits for a retry (maxElapsedMs): a Retry-After of years, which fails
      // this record as exhausted, would otherwise hold every other record of the key until then.
      const pauseMs = retryAfterMs(handlerError, clock.now());
      if (pauseMs !== undefined) this.deps.limiter.slowDown(entry.rateKey, clock.now() + Math.min(pauseMs, job.retry.maxElapsedMs));
    }
    const retry = retryState(entry);
    if (decision.retry && !this.deps.stopping()) {
      this.heldErrors.hold(retry, failure);
      retry.history.push({ attempt: entry.attempt, durationMs, error: failure, delayMs: decision.delayMs });
      stats.retries++;
      retry.previousDelayMs = decision.delayMs;
      if (this.emitsRetrying) {
        events.emit({
          type: 'record:retrying',
          key: entry.key,
          attempt: entry.attempt,
          counted: entry.counted,
          delayMs: decision.delayMs,
          error: failure.value,
          rule,
        });
      }
      this.waitToRetry(entry, decision.delayMs);
      return;
    }
    if (decision.retry) {
      this.pending(entry);
      return;
    }
    const stored = error === handlerError ? failure : LazySerializedError.of(safeSerialize(error, job.redact));
    const serialized = stored.value;
    retry.history.push({ attempt: entry.attempt, durationMs, error: stored });
    const kind = timedOut ? FailureKind.timeout : decision.reason === 'fatal' ? FailureKind.fatal : FailureKind.exhausted;
    const fail = (): void => this.deps.onOutcome(entry, this.failedOutcome(entry, kind, serialized, rule));
    // A systemic failure at the end of its attempts may be the start of an outage: the breaker decides.
    if (systemic && this.deps.breaker.hold(entry, { fail, park: () => this.park(entry), pend: () => this.pending(entry) })) {
      // It waits for the breaker's verdict without its slot, so that other records keep coming and give that verdict.
      this.deps.move(entry, Phase.held);
      this.deps.onHeld?.(entry);
      return;
    }
    fail();
  }

  /** The record fails for good: its event, its phase, its outcome. */
  private failedOutcome(entry: OpenRecord, kind: FailureKind, error: SerializedError, rule: string): AttemptsEnd {
    const { key, attempt, counted } = entry;
    const history = storedHistory(entry) ?? [];
    this.releaseHeld(entry);
    const group = failureGroup(error, kind, rule);
    this.deps.events.emit({ type: 'record:failed', key, kind, attempts: attempt, counted, error, rule, fingerprint: group.fingerprint });
    this.deps.move(entry, Phase.done);
    entry.record = undefined;
    return { status: 'failed', key, position: entry.position, attempts: attempt, kind, error, ...group, rule, history };
  }

  /** Hit by an outage: the dispatcher parks it (its attempts are given back when the breaker closes). */
  private park(entry: OpenRecord): void {
    this.running.delete(entry);
    this.deps.onParked(entry);
  }

  /** The record's next attempt comes after `delayMs`, without its slot when the engine keeps slots. */
  private waitToRetry(entry: OpenRecord, delayMs: number): void {
    if (this.deps.onRetryWait) {
      this.deps.onRetryWait(entry, delayMs);
      return;
    }
    this.deps.move(entry, Phase.retryWait);
    retryState(entry).cancelRetry = this.deps.clock.timer(delayMs, () => this.attempt(entry));
  }

  /** The record leaves its attempts (an outcome, or pending): the errors its history held unserialised no longer count. */
  private releaseHeld(entry: OpenRecord): void {
    if (entry.retry?.heldErrors) this.heldErrors.release(entry.retry);
  }

  private pending(entry: OpenRecord): void {
    this.releaseHeld(entry);
    this.deps.move(entry, Phase.pending);
    this.deps.onOutcome(entry, { status: 'pending', key: entry.key, position: entry.position, attempts: entry.attempt });
  }
}

/** The durations of the record's attempts, the success last: one array, and none to copy for a first-time success. */
function attemptDurations(entry: OpenRecord, durationMs: number): number[] {
  const history = entry.retry?.history;
  if (history === undefined) return [durationMs];
  const durations = new Array<number>(history.length + 1);
  for (let i = 0; i < history.length; i++) durations[i] = (history[i] as FailedAttempt).durationMs;
  durations[history.length] = durationMs;
  return durations;
}
