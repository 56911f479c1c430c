/**
 * The loop: read → select → process with bounded concurrency → group-commit outcomes.
 * Policies live in policy/; which records to process lives in selector.ts; this file orchestrates.
 */
import { randomUUID } from 'node:crypto';
import type { Job } from '../job.js';
import { FailureKind } from '../domain/status.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';
import { writeRunReports } from '../report/run-reports.js';
import { pruneRunReports } from '../report/prune-run-reports.js';
import { buildSummary, type Summary } from '../report/summary.js';
import type { SourceItem, SourcePosition } from '../sources/source.js';
import { Checkpointer } from './checkpointer.js';
import { EngineEvents } from './events.js';
import { InFlightWindow } from '../structures/in-flight-window.js';
import { DependencyGate } from './dependency-gate.js';
import { BreakerControl } from './breaker-control.js';
import { runHealthCheck } from '../policy/health-check.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { KeyedBuckets } from '../policy/keyed-buckets.js';
import { FairScheduler } from './fair-scheduler.js';
import { CrashGuard } from './crash-guard.js';
import type { Trip } from '../policy/breaker.js';
import { resolveDeadline, type DeadlineReason } from '../policy/deadline.js';
import { DeadlineWatch } from './deadline-watch.js';
import type { SerializedError } from '../policy/serialize-error.js';
import type { KeyIndex } from '../structures/key-index.js';
import type { Outcome } from '../domain/outcome.js';
import { newInFlight, RecordExecutor, type InFlight } from './record-executor.js';
import { safeSerialize } from './stored-error.js';
import { watchEscapes, type EscapeListener } from './escaped-errors.js';
import { SourceFailure, sourceFailedError } from './source-failure.js';
import { resolveRunOptions, type ResolvedRunOptions, type RunOptions } from './run-options.js';
import { decideStatus, hasTransientFailures, nextCommand } from './run-status.js';
import { rerunSelector, resumeSelector, type Selector } from './selector.js';
import { rerunPlan } from './rerun-plan.js';
import { crashedOutcome, duplicateMessage, invalidOutcome, keyOfPosition } from '../domain/unusable-record.js';
import { loadKeyIndex } from './key-index-loader.js';
import { repeat } from './repeat.js';
import { settleDrift, sourceNow } from './source-check.js';
import { thrownMessage, valueText } from '../policy/error-fields.js';

/** A live view of a run, for progress displays. */
export interface Progress {
  readonly runId: string | undefined;
  readonly read: number;
  readonly inFlight: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly alreadyDone: number;
  readonly retries: number;
  readonly startedAtMs: number;
  readonly stopping: string | undefined;
}

/** A run in progress. */
export interface RunHandle {
  /** Resolves with the summary when the run has ended and its progress is committed. */
  readonly done: Promise<Summary>;
  /** Stops intake; in-flight records get the job's `shutdownGraceMs` to finish, then are aborted (they stay pending). */
  stop(reason: string): void;
  /** Stops at once: in-flight records are abandoned (they stay pending) and what is recorded is committed. */
  forceStop(reason: string): void;
  progress(): Progress;
}

/** Runs a job to its end (or until stopped) and returns its summary. */
export function runJob(job: Job<any, any>, options: RunOptions = {}): Promise<Summary> {
  return startRun(job, options).done;
}

/** Starts a run and returns a handle to watch and stop it. */
export function startRun(job: Job<any, any>, options: RunOptions = {}): RunHandle {
  const run = new JobRun(job, resolveRunOptions(job, options));
  return {
    done: run.execute(),
    stop: (reason) => run.stop(reason),
    forceStop: (reason) => run.forceStop(reason),
    progress: () => run.progress(),
  };
}

class JobRun {
  private readonly runId = randomUUID();
  private readonly events: EngineEvents;
  private readonly stats = { attempts: 0, retries: 0, retriesDeferred: 0 };
  private readonly thisRun = { succeeded: 0, failed: 0, skipped: 0 };
  /** Records started and not finished, in reading order: the oldest one holds the watermark. */
  private readonly inFlight = new InFlightWindow<InFlight>();
  private active = 0;
  /** Records held for the breaker's verdict (they hold no slot). */
  private held = 0;
  /** Records waiting for a rate-limit token (they hold no slot); the reader stops at MAX_TOKEN_WAITING. */
  private tokenWaiting = 0;
  /** The source's size in bytes, when known: with the first records' offsets it estimates the record count. */
  private sourceBytes: number | undefined;
  private started = 0;
  private wake: (() => void) | undefined;
  private checkpointer: Checkpointer | undefined;
  private selector: Selector | undefined;
  private commitInProgress: Promise<void> | undefined;
  private lastRead: SourcePosition | undefined;
  private startWatermark: SourcePosition | undefined;
  private alreadyDone = 0;
  private stopReason: string | undefined;
  /** Why the run stopped at its deadline (time or records): status `stopped`, exit code 5. */
  private deadlineReason: string | undefined;
  private deadline: DeadlineWatch | undefined;
  private failure: unknown;
  /** Every key read, to fail a repeated key and to find dependencies. */
  private keys: KeyIndex | undefined;
  /** Dependency gating, when the job has `dependsOn`. */
  private gate: DependencyGate | undefined;
  /** Records whose dependencies were met while every slot was busy: they go before new reads. */
  private readonly readyQueue: InFlight[] = [];
  /** True while pump() runs (see there). */
  private pumping = false;
  /** A configuration error found mid-run (a dependency cycle): the run stops, commits, then throws it. */
  private configError: unknown;
  private readonly breaker: BreakerControl;
  private readonly budget: RetryBudget;
  private crashGuard: CrashGuard<InFlight> | undefined;
  /** Per-key concurrency with round-robin fairness, when the job has `concurrencyKey`. */
  private readonly fair: FairScheduler<InFlight> | undefined;
  /** Token buckets, when the job has a rate limit. */
  private readonly limiter: KeyedBuckets | undefined;
  /** Why the run was aborted (health check, breaker): status `aborted`, exit code 3. */
  private abortReason: string | undefined;
  private cancelGrace: (() => void) | undefined;
  private readonly startedAtMs: number;
  private readonly executor: RecordExecutor;
  /** Aborts a source that is waiting for its next record when the run stops. */
  private readonly readController = new AbortController();
  private ended = false;
  /** Set when accepted drift moved the recorded outcomes: said in the summary's warnings. */
  private driftNote: string | undefined;
  /** Why the run stopped for an error that escaped the job's code: status `uncaught-error`, exit code 6. */
  private uncaughtReason: string | undefined;
  /** The source failed mid-run: the run stops, commits what finished, then throws it (exit code 2). */
  private sourceError: unknown;
  private readonly escapes: EscapeListener = { uncaught: (error, origin) => this.uncaught(error, origin) };

  constructor(
    private readonly job: Job<any, any>,
    private readonly options: ResolvedRunOptions,
  ) {
    this.events = new EngineEvents(options.onEvent);
    this.startedAtMs = options.clock.now();
    this.budget = new RetryBudget(job.retryBudget);
    this.fair = job.concurrencyKey ? new FairScheduler<InFlight>({ perKeyConcurrency: job.perKeyConcurrency }) : undefined;
    this.limiter = job.rateLimit || job.perKeyRateLimit
      ? new KeyedBuckets({ global: job.rateLimit, perKey: job.perKeyRateLimit }, options.clock)
      : undefined;
    this.breaker = new BreakerControl(job, options.clock, this.events, {
      release: (entries) => {
        for (const entry of entries) this.requeue(entry);
        this.pump();
      },
      probeWith: (entry) => {
        this.active++;
        this.attempt(entry);
      },
      abort: (trip, error) => this.abortForBreaker(trip, error),
      wake: () => this.wakeLoop(),
    });
    this.executor = new RecordExecutor({
      job, clock: options.clock, random: options.random, events: this.events, stats: this.stats,
      onSucceeded: (entry, value) => this.onSucceeded(entry, value), onOutcome: (entry, outcome) => this.onOutcome(entry, outcome),
      stopping: () => this.stopReason !== undefined, budget: this.budget, breaker: this.breaker, limiter: this.limiter,
      onParked: (entry) => {
        this.release(entry);
        this.breaker.park(entry);
        this.wakeLoop();
      },
      onTokenWait: (entry, waitMs) => {
        this.release(entry);
        entry.waitingForToken = true;
        this.tokenWaiting++;
        (entry.retry ??= { previousDelayMs: 0, cancelRetry: undefined, history: [] }).cancelRetry = options.clock.timer(waitMs, () => {
          entry.waitingForToken = false;
          this.tokenWaiting--;
          this.requeue(entry);
          this.pump();
        });
        this.pump();
        this.wakeLoop();
      },
      onHeld: (entry) => {
        // A held record waits for the breaker's verdict without its slot, so that other records
        // keep coming and give that verdict.
        this.release(entry);
        entry.held = true;
        this.held++;
        this.pump();
        this.wakeLoop();
      },
      escapes: options.attributeEscapes ? this.escapes : undefined,
    });
    options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private readonly onAbort = (): void => this.stop(String(this.options.signal?.reason ?? 'aborted'));

  progress(): Progress {
    return {
      runId: this.runId, read: this.lastRead ? this.lastRead.seq + 1 : 0, inFlight: this.active,
      succeeded: this.thisRun.succeeded, failed: this.thisRun.failed, alreadyDone: this.alreadyDone,
      retries: this.stats.retries, startedAtMs: this.startedAtMs, stopping: this.stopReason,
    };
  }

  stop(reason: string): void {
    // After the loop has ended there is nothing to stop, and no grace timer may outlive the run.
    if (this.stopReason !== undefined || this.ended) return;
    this.stopReason = reason;
    this.breaker.stop();
    this.readController.abort(reason);
    this.events.emit({ type: 'run:stopping', reason });
    this.cancelGrace = this.options.clock.timer(this.job.shutdownGraceMs, () => this.abandonAll());
    // Records waiting for a retry stay pending at once; running ones get the grace period.
    for (const entry of this.inFlight.open()) if (!entry.running) this.executor.abandon(entry);
    this.wakeLoop();
  }

  forceStop(reason: string): void {
    this.stop(reason);
    this.abandonAll();
  }

  private abandonAll(): void {
    for (const entry of this.inFlight.open()) this.executor.abandon(entry);
  }

  async execute(): Promise<Summary> {
    const unwatch = watchEscapes(this.escapes);
    try {
      return await this.executeWatched();
    } finally {
      unwatch();
    }
  }

  private async executeWatched(): Promise<Summary> {
    if (this.options.signal?.aborted) this.stop(String(this.options.signal.reason ?? 'aborted'));
    const fingerprint = await this.job.source.fingerprint();
    this.sourceBytes = fingerprint?.size;
    const { ledger, owned } = openLedger(this.options.ledger, { lease: this.options.lease });
    try {
      const begun = await ledger.begin({
        runId: this.runId, job: this.job.name, fingerprint, acceptDrift: this.options.acceptDrift, takeOver: this.options.takeOver,
        ...(await sourceNow(this.job, ledger, fingerprint)),
        options: {
          concurrency: this.options.concurrency, maxFailureRate: this.options.maxFailureRate, rerun: this.options.rerun ?? null,
          deadline: this.options.deadline, pid: process.pid,
        },
      });
      try {
        const { resume, remapped } = await settleDrift(this.job, ledger, this.runId, begun, fingerprint, this.options.acceptDrift, this.readController.signal);
        if (remapped) this.driftNote = `the source changed (${remapped}); the recorded outcomes now follow their records by key`;
        this.alreadyDone = resume.alreadyDone;
        this.startWatermark = resume.watermark;
        const plan = this.options.rerun ? await rerunPlan(ledger, this.options.rerun) : undefined;
        this.selector = plan ? rerunSelector(this.job, plan, this.job.source.seekable) : resumeSelector(resume);
        if (!this.options.rerun || this.job.dependsOn) this.keys = await loadKeyIndex(ledger);
        if (this.job.dependsOn) {
          const redo = new Set(plan?.rows.map((row) => row.seq) ?? []);
          this.gate = await DependencyGate.open(this.job, ledger, this.keys as KeyIndex, redo, {
            run: (entry) => {
              this.readyQueue.push(entry);
              this.pump();
            },
            skip: (entry, blockedBy) => this.recordSkipped(entry, blockedBy),
            invalid: (entry, message) => {
              entry.done = true;
              entry.record = undefined;
              this.recordInvalid(entry.position, message, entry.key);
            },
          });
        }
        await this.job.output?.open(resume.outputState, { ledger: ledger.location, job: this.job.name });
        this.checkpointer = new Checkpointer(ledger, this.runId, this.job.checkpoint.everyRecords, this.job.output, this.selector.successesAsRows, this.keys,
          (offset) => this.job.source.sampleAt?.(offset) ?? Promise.resolve(undefined));
        // The output's claim and its empty length are committed before its first line is written:
        // a crash before the first batch then cuts the file back on resume, instead of leaving bytes
        // that no commit accounts for (which would refuse every later run).
        if (this.job.output && resume.outputState === undefined) await this.checkpointer.commit(undefined, 0, false);
        this.events.emit({
          type: 'run:started', runId: this.runId, ledger: ledger.location, alreadyDone: resume.alreadyDone,
          resumedFrom: resume.watermark?.seq, crashedRunId: resume.crashedRunId, rerunSelected: plan?.rows.length,
        });
        if (this.job.healthCheck && this.stopReason === undefined) {
          const health = await runHealthCheck(this.job.healthCheck, this.job.healthCheckPolicy, this.options.clock);
          if (!health.ok) {
            this.abortReason = `the health check failed ${health.attempts} time(s): ${health.error.name}: ${health.error.message}; no record was processed`;
            this.events.emit({ type: 'run:aborted', reason: this.abortReason });
            return await this.finish(ledger, false);
          }
        }
        this.deadline = new DeadlineWatch(resolveDeadline(this.options.deadline, this.startedAtMs), this.options.clock, (reason, description) => this.stopAtDeadline(reason, description));
        this.crashGuard = new CrashGuard<InFlight>(resume.crashes, ledger, this.options.concurrency, this.job.maxCrashes);
        const exhausted = await this.processSource(this.selector);
        return await this.finish(ledger, exhausted);
      } catch (error) {
        await ledger.finish(this.runId, 'failed', { error: thrownMessage(error) }).catch(() => {});
        throw error;
      }
    } finally {
      this.options.signal?.removeEventListener('abort', this.onAbort);
      await this.job.output?.close();
      // A ledger the caller passed in is the caller's to close.
      if (owned) await ledger.close();
    }
  }

  private async processSource(selector: Selector): Promise<boolean> {
    const stopTimers = this.startTimers();
    const stopDeadlineTimer = (this.deadline as DeadlineWatch).start();
    let exhausted = false;
    try {
      if (this.stopReason === undefined) exhausted = await this.readLoop(selector);
      for (;;) {
        // Records parked by an open breaker wait for it to close (or for the run to be aborted).
        while (this.active > 0 || this.held > 0 || this.tokenWaiting > 0 || (this.breaker.parkedCount > 0 && this.stopReason === undefined)) {
          await this.woken();
        }
        // Nothing runs any more: what still waits, waits on keys the source does not have.
        if (exhausted && this.gate && this.stopReason === undefined && this.gate.failMissing() > 0) continue;
        break;
      }
    } finally {
      this.ended = true;
      stopTimers();
      stopDeadlineTimer();
      this.cancelGrace?.();
    }
    return exhausted;
  }

  /** Returns true when the source was read to its end. */
  private async readLoop(selector: Selector): Promise<boolean> {
    try {
      const exhausted = await this.readItems(selector);
      await this.runWaitingGroups();
      return exhausted;
    } catch (error) {
      // The source gave up because the run is stopping (its signal aborted): a stop, not an error.
      if (this.stopReason !== undefined && this.readController.signal.aborted) return false;
      if (!(error instanceof SourceFailure)) throw error;
      // Stop taking records, let the running ones finish and commit them; finish() then reports it.
      this.sourceError = sourceFailedError(this.job.source.description, this.lastRead ? this.lastRead.seq + 1 : 0, error.error);
      this.stop('the source failed');
      return false;
    }
  }

  private async readItems(selector: Selector): Promise<boolean> {
    // Iterated by hand, not with for-await, to tell the source's errors (from next()) from the engine's.
    let items: AsyncIterator<SourceItem<unknown>>;
    try {
      items = this.job.source.read(selector.from, this.readController.signal)[Symbol.asyncIterator]();
    } catch (error) {
      throw new SourceFailure(error);
    }
    let finished = false;
    try {
      for (;;) {
        let step: IteratorResult<SourceItem<unknown>>;
        try {
          step = await items.next();
        } catch (error) {
          finished = true;
          throw new SourceFailure(error);
        }
        if (step.done) {
          finished = true;
          return true;
        }
        const item = step.value;
        // While the breaker is open no record is taken: an outage must not become failures.
        while (!this.breaker.closed && this.stopReason === undefined) await this.woken();
        if (this.stopReason !== undefined) return false;
        this.lastRead = item.position;
        if (item.position.seq === KEY_ESTIMATE_AFTER) this.reserveKeys(item.position);
        const choice = selector.pick(item);
        if (choice === 'stop') return false;
        if (choice === 'process') {
          const deadline = this.deadline as DeadlineWatch;
          if (deadline.beforeRecord(this.started)) return false;
          const guard = this.crashGuard as CrashGuard<InFlight>;
          const groupSize = guard.groupSize(item.position.seq);
          if (groupSize === undefined) {
            const covering = guard.cover(item.position.seq);
            if (covering) await covering;
            this.start(item);
          } else if (!(await this.holdSuspect(item, groupSize))) {
            return false;
          }
          this.started++;
          if (deadline.afterRecord(this.started)) return false;
        }
        if ((this.crashGuard as CrashGuard<InFlight>).passedSuspects(item.position.seq) && !(await this.runWaitingGroups())) return false;
        // `while`, not `if`: a record finishing wakes this loop, but the slot it freed may already have
        // gone to a record whose dependencies it met (pump), and the window must stay at `concurrency`.
        while ((this.active >= this.options.concurrency || this.tokenWaiting >= MAX_TOKEN_WAITING || (this.fair !== undefined && this.fair.queued >= this.fair.options.maxQueued)) && this.stopReason === undefined) {
          await this.woken();
        }
        if (this.commitInProgress) await this.commitInProgress;
        if (this.stopReason !== undefined) return false;
      }
    } finally {
      // What for-await does on an early exit: let the source close its file or cursor.
      if (!finished) await items.return?.();
    }
  }

  /**
   * A crash suspect waits (in the window, so the watermark stays before it) for its group; a full
   * group runs. A suspect that crashed the process `maxCrashes` times alone fails unrun. Returns
   * false when the run stopped meanwhile.
   */
  private async holdSuspect(item: SourceItem<unknown>, groupSize: number): Promise<boolean> {
    const entry = this.enter(item);
    if (!entry) return true;
    const guard = this.crashGuard as CrashGuard<InFlight>;
    const crashes = guard.quarantined(entry.position.seq);
    if (crashes) {
      this.recordCrashed(entry, crashes);
      return true;
    }
    const group = guard.hold(entry, groupSize);
    return group ? this.runGroup(group) : true;
  }

  /** Runs the suspects still waiting for their group (reading passed them all), group by group. */
  private async runWaitingGroups(): Promise<boolean> {
    if (this.stopReason !== undefined) return false;
    for (const group of (this.crashGuard as CrashGuard<InFlight>).takeWaiting()) {
      if (!(await this.runGroup(group))) return false;
    }
    return true;
  }

  /**
   * Runs a group of suspects by itself (see crash-guard.ts), so that a crash now names the group.
   * Returns false when the run stopped meanwhile (the members not started stay pending).
   */
  private async runGroup(group: InFlight[]): Promise<boolean> {
    while (this.active > 0) await this.woken();
    // Commit what ran before (an earlier group): if this group kills the process, the earlier
    // one's members are cleared and do not run in a group again.
    if ((this.checkpointer as Checkpointer).buffered > 0 && this.failure === undefined) await this.commit(false);
    if (this.stopReason !== undefined) return false;
    const guard = this.crashGuard as CrashGuard<InFlight>;
    await guard.groupStarts(group);
    for (const entry of group) this.launch(entry);
    while (this.active > 0) await this.woken();
    await guard.groupEnded();
    return this.stopReason === undefined;
  }

  /** Resolves at the next wakeLoop(): a record finished, a slot freed, the run is stopping. */
  private woken(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private start(item: SourceItem<unknown>): void {
    const entry = this.enter(item);
    if (entry) this.launch(entry);
  }

  /** The record enters the window (or fails at once when it cannot be processed at all). */
  private enter(item: SourceItem<unknown>): InFlight | undefined {
    if (item.kind === 'invalid') {
      this.recordInvalid(item.position, item.message);
      return undefined;
    }
    let key: string;
    try {
      key = this.job.key(item.value);
    } catch (error) {
      this.recordInvalid(item.position, `job.key threw: ${thrownMessage(error)}`);
      return undefined;
    }
    if (typeof key !== 'string' || key === '') {
      this.recordInvalid(item.position, `job.key must return a non-empty string; got ${typeof key === 'string' ? JSON.stringify(key) : valueText(key)}`);
      return undefined;
    }
    const earlier = this.keys?.add(key, item.position.seq, item.position.line ?? 0);
    if (earlier) {
      this.recordInvalid(item.position, duplicateMessage(key, item.position, earlier));
      return undefined;
    }
    // The rate-limit key (which bucket the record's attempts take from, which one its 429 pauses) and
    // the fairness key; a user function that throws fails the record, like `job.key` does.
    let rateKey: string | undefined;
    let fairKey = '';
    let field = 'rateLimitKey';
    try {
      rateKey = this.job.rateLimitKey ? String(this.job.rateLimitKey(item.value)) : undefined;
      field = 'concurrencyKey';
      if (this.fair) fairKey = String(this.job.concurrencyKey?.(item.value) ?? '');
    } catch (error) {
      this.recordInvalid(item.position, `job.${field} threw: ${thrownMessage(error)}`, key);
      return undefined;
    }
    const entry = newInFlight(key, item.position, item.value);
    entry.rateKey = rateKey;
    entry.fairKey = this.fair ? fairKey : undefined;
    this.inFlight.add(entry);
    return entry;
  }

  /** The record goes to its dependencies' gate, its fairness queue, or straight to an attempt. */
  private launch(entry: InFlight): void {
    if (this.gate) {
      let runNow: boolean;
      try {
        runNow = this.gate.admit(entry, entry.record);
      } catch (error) {
        // A dependency cycle: stop taking records, save what is done, then report it (exit code 2).
        this.configError ??= error;
        this.stop('a dependency cycle');
        return;
      }
      if (!runNow) return;
    }
    if (this.fair) {
      this.fair.offer(entry.fairKey as string, entry);
      this.pump();
      return;
    }
    this.active++;
    this.attempt(entry);
  }

  /** Starts the record's next attempt once the crash note covers it. */
  private attempt(entry: InFlight): void {
    const noting = this.crashGuard?.starting(entry);
    // The SQLite ledger has written the note when starting() returns; a failed write stops the run.
    noting?.catch((error: unknown) => {
      this.failure ??= error;
      this.forceStop('the ledger could not be written');
    });
    this.executor.attempt(entry);
  }

  /** Sizes the key index once for the whole source, from the bytes the first records took. */
  private reserveKeys(position: SourcePosition): void {
    if (!this.keys || this.sourceBytes === undefined || !position.offset) return;
    const bytesPerRecord = position.offset / position.seq;
    this.keys.reserve((this.sourceBytes / bytesPerRecord) * 1.1);
  }

  /** Starts records whose dependencies are met, while slots are free. */
  private pump(): void {
    // Not re-entrant: a synchronous handler succeeds inside attempt(), which settles its dependents
    // and pumps again; the outer loop picks them up instead, so a chain does not grow the stack.
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.pumpNow();
    } finally {
      this.pumping = false;
    }
  }

  private pumpNow(): void {
    while (this.readyQueue.length > 0 && this.active < this.options.concurrency && this.stopReason === undefined && this.breaker.closed) {
      const entry = this.readyQueue.shift() as InFlight;
      this.active++;
      this.attempt(entry);
    }
    // Round-robin over the fairness keys that have records waiting and a free per-key slot.
    while (this.fair && this.active < this.options.concurrency && this.stopReason === undefined && this.breaker.closed) {
      const entry = this.fair.next();
      if (!entry) break;
      entry.fairRunning = true;
      this.active++;
      this.attempt(entry);
    }
  }

  /** A record of a fairness key ended its turn (outcome, pending, or parked): its key may run another. */
  private leaveFairQueue(entry: InFlight): void {
    if (this.fair && entry.fairKey !== undefined && entry.fairRunning) {
      entry.fairRunning = false;
      this.fair.done(entry.fairKey);
    }
  }

  /** A record that ran alone each time the process died, `maxCrashes` times: failed, never run again. */
  private recordCrashed(entry: InFlight, crashes: { count: number; runIds: string[] }): void {
    entry.done = true;
    entry.record = undefined;
    const outcome = crashedOutcome(entry.key, entry.position, crashes, this.job.maxCrashes);
    this.thisRun.failed++;
    this.events.emit({ type: 'record:failed', key: entry.key, kind: FailureKind.crashed, attempts: 0, error: outcome.error, rule: outcome.rule });
    if ((this.checkpointer as Checkpointer).add(outcome)) this.commitInBackground();
    this.gate?.settled(entry, 'failed');
  }

  private recordSkipped(entry: InFlight, blockedBy: readonly string[]): void {
    entry.done = true;
    entry.record = undefined;
    this.thisRun.skipped++;
    this.events.emit({ type: 'record:skipped', key: entry.key, blockedBy });
    if ((this.checkpointer as Checkpointer).add({ status: 'skipped', key: entry.key, position: entry.position, blockedBy })) this.commitInBackground();
  }

  /** A record that cannot be processed at all; it never enters the window, so it fails at once. */
  private recordInvalid(position: SourcePosition, message: string, key = keyOfPosition(position)): void {
    this.thisRun.failed++;
    if ((this.checkpointer as Checkpointer).add(invalidOutcome(key, position, message, this.job.redact))) this.commitInBackground();
  }

  private onSucceeded(entry: InFlight, value: unknown): void {
    let full: boolean;
    try {
      full = (this.checkpointer as Checkpointer).addSucceeded(entry, value);
    } catch (error) {
      // The output sink refused the result (a BigInt, a circular object): the record fails instead.
      this.onOutcome(entry, this.executor.unwritable(entry, error));
      return;
    }
    this.active--;
    this.leaveFairQueue(entry);
    this.thisRun.succeeded++;
    if (full) this.commitInBackground();
    this.gate?.settled(entry, 'succeeded');
    this.pump();
    this.wakeLoop();
  }

  /** Back in line for a slot: through the fairness queue for a record that has a fairness key. */
  private requeue(entry: InFlight): void {
    // A full fairness queue must not lose the record: it then runs without waiting for its key's turn.
    if (!(this.fair && entry.fairKey !== undefined && this.fair.offer(entry.fairKey, entry))) this.readyQueue.push(entry);
  }

  /** The record gives up its slot (or, when it was held, its place among the held ones). */
  private release(entry: InFlight): void {
    if (entry.waitingForToken) {
      entry.waitingForToken = false;
      this.tokenWaiting--;
      return;
    }
    if (entry.held) {
      entry.held = false;
      this.held--;
      return;
    }
    this.active--;
    this.leaveFairQueue(entry);
  }

  private onOutcome(entry: InFlight, outcome: Outcome): void {
    this.release(entry);
    // A pending record stays open in the window, so the watermark never passes it: the next run
    // processes it again.
    if (outcome.status !== 'pending') {
      this.thisRun[outcome.status]++;
      if ((this.checkpointer as Checkpointer).add(outcome)) this.commitInBackground();
      if (outcome.status === 'failed') this.gate?.settled(entry, 'failed');
    }
    this.pump();
    this.wakeLoop();
  }

  private wakeLoop(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Everything before this position has an outcome (after this commit); undefined for re-runs. */
  private watermark(): SourcePosition | undefined {
    if (!this.selector?.movesWatermark) return undefined;
    this.inFlight.compact();
    const oldest = this.inFlight.oldest();
    if (oldest) return oldest.position;
    return this.lastRead ?? this.startWatermark ?? { seq: 0 };
  }

  private commit(exhausted: boolean): Promise<void> {
    const moves = this.selector?.movesWatermark === true;
    const seen = moves && this.lastRead ? this.lastRead.seq + 1 : 0;
    const watermark = this.watermark();
    const writing = (this.checkpointer as Checkpointer).commit(watermark, seen, moves && exhausted);
    const tracked = writing.then(
      () => this.events.emit({ type: 'checkpoint', committed: (this.checkpointer as Checkpointer).committed, watermark: watermark?.seq }),
      (error: unknown) => {
        this.failure ??= error;
        this.forceStop('the ledger could not be written');
      },
    ).finally(() => {
      if (this.commitInProgress === tracked) this.commitInProgress = undefined;
    });
    this.commitInProgress = tracked;
    return tracked;
  }

  /**
   * A commit that records keep running past (a full batch, the timer). commit() already turns a failed
   * write into a stopped run; anything its handlers throw is kept as the run's failure, never lost.
   */
  private commitInBackground(): void {
    this.commit(false).catch((error: unknown) => {
      this.failure ??= error;
    });
  }

  /** The time-based commit and the timeout sweep; returns a function that stops both. */
  private startTimers(): () => void {
    const stopCommits = repeat(this.options.clock, this.job.checkpoint.everyMs, () => {
      if ((this.checkpointer as Checkpointer).buffered > 0 && this.failure === undefined) this.commitInBackground();
    });
    // Timeouts are checked a tenth of timeoutMs apart (at most 1 s): an attempt is abandoned
    // between timeoutMs and 1.1 × timeoutMs after it started.
    const sweepEveryMs = Math.min(1000, Math.max(1, this.job.timeoutMs / 10));
    const stopSweeps = repeat(this.options.clock, sweepEveryMs, () => this.executor.sweep());
    return () => {
      stopCommits();
      stopSweeps();
    };
  }

  /** Stops intake at a time or record limit; in-flight records get the grace period. */
  private stopAtDeadline(reason: DeadlineReason, description: string): void {
    if (this.stopReason !== undefined) return;
    this.deadlineReason = description;
    this.events.emit({ type: 'run:deadline', reason: description });
    this.stop(`its deadline (${reason})`);
  }

  private breakerSummary(): Summary['breaker'] {
    const trip = this.breaker.lastTrip;
    const error = this.breaker.tripError;
    return {
      state: this.breaker.state, trips: this.breaker.trips, retriesDeferred: this.stats.retriesDeferred,
      ...(trip ? { lastTrip: { reason: trip.reason, description: trip.description, ...(error ? { error: { name: error.name, message: error.message } } : {}) } } : {}),
    };
  }

  /** An error escaped the job's code and no running record could be blamed: stop, keeping what is done. */
  private uncaught(error: unknown, origin: string | undefined): void {
    if (this.uncaughtReason !== undefined) return;
    const serialized = safeSerialize(error, this.job.redact);
    this.uncaughtReason = `an error escaped the job's code ${origin === undefined ? 'outside any record' : `from ${origin}`}: ${serialized.name}: ${serialized.message}`;
    this.events.emit({ type: 'run:uncaught-error', error: serialized, origin });
    this.stop('an uncaught error');
  }

  private abortForBreaker(trip: Trip, error: SerializedError | undefined): void {
    const cause = error ? `; dominating error: ${error.name}: ${error.message}` : '';
    this.abortReason = `the breaker opened (${trip.description}) and did not recover within ${this.job.breaker.maxOpenMs} ms${cause}; progress is saved, and the records hit by the outage are pending`;
    this.events.emit({ type: 'run:aborted', reason: this.abortReason });
    this.stop('the breaker did not recover');
  }

  private async finish(ledger: Ledger, exhausted: boolean): Promise<Summary> {
    this.checkpointer?.sampleNextCommit();
    if (this.failure === undefined) await this.commit(exhausted);
    if (this.failure !== undefined) throw this.failure;
    if (this.configError !== undefined) throw this.configError;
    if (this.sourceError !== undefined) throw this.sourceError;
    const counts = await ledger.counts();
    const { status, reason } = decideStatus({
      uncaughtReason: this.uncaughtReason, abortReason: this.abortReason, deadlineReason: this.deadlineReason,
      stopReason: this.stopReason, counts,
      maxFailures: this.options.maxFailures, maxFailureRate: this.options.maxFailureRate,
    });
    const draft = buildSummary({
      job: this.job.name, runId: this.runId, status, reason, counts, stats: this.stats, thisRun: this.thisRun,
      alreadyDone: this.alreadyDone, elapsedMs: this.options.clock.now() - this.startedAtMs,
      topErrors: await ledger.topErrors(5, 3), ledger: ledger.location,
      next: nextCommand({
        status, counts, jobFile: this.options.jobFile, ledgerFlag: this.options.ledgerFlag, command: this.options.command,
        transientFailures: counts.failed > 0 && (await hasTransientFailures(ledger)),
      }),
      warnings: [...(this.driftNote ? [this.driftNote] : []), ...(this.selector?.warnings(exhausted) ?? [])], reports: undefined, breaker: this.breakerSummary(),
      pacing: this.limiter || this.fair
        ? { ...(this.limiter ? { rateLimit: this.limiter.snapshot() } : {}), ...(this.fair ? { saturatedKeys: this.fair.saturatedKeys().slice(0, 20) } : {}) }
        : undefined,
    });
    const reports = await writeRunReports(ledger, draft);
    if (reports) pruneRunReports(reports, this.options.keepRuns);
    const summary = { ...draft, reports };
    await ledger.finish(this.runId, status, summary);
    this.events.emit({ type: 'run:finished', summary });
    return summary;
  }
}

/** After this many records, the source's size tells how many keys to expect. */
const KEY_ESTIMATE_AFTER = 1024;

/** Records waiting for a rate-limit token at most: the bound on what a paused key makes the reader buffer. */
const MAX_TOKEN_WAITING = 10_000;
