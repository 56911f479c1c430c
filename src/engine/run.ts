/**
 * A run that its ledger has begun, built from parts that all exist (run-setup.ts): the reader, the
 * dispatcher, the executor, the outcome recorder and the breaker wired together, as run-job.ts's
 * flow describes. startRun (run-job.ts) creates it once the ledger has begun the run.
 */
import type { Job } from '../job.js';
import { KeyedBuckets } from '../policy/keyed-buckets.js';
import { RetryBudget } from '../policy/retry-budget.js';
import { resolveDeadline } from '../policy/deadline.js';
import { runHealthCheck } from '../policy/health-check.js';
import type { Summary } from '../report/summary.js';
import type { SourcePosition } from '../sources/source.js';
import { InFlightWindow } from '../structures/in-flight-window.js';
import { watchInvalidStart } from './invalid-start.js';
import { AdaptiveConcurrency } from './adaptive-concurrency.js';
import { BreakerControl } from './breaker-control.js';
import { DeadlineWatch } from './deadline-watch.js';
import { DependencyGate } from './dependency-gate.js';
import { Dispatcher } from './dispatcher.js';
import { ledgerSteps } from './durable-step.js';
import { type EscapeListener } from './escaped-errors.js';
import { EngineEvents } from './events.js';
import { FairScheduler } from './fair-scheduler.js';
import type { AttemptRunner } from './handler-call.js';
import { leftWindow, Phase, type OpenRecord } from './open-record.js';
import { OutcomeRecorder } from './outcome-recorder.js';
import { Reader } from './reader.js';
import { ReaderWaits } from './reader-waits.js';
import { enterRecord } from './record-entry.js';
import { RecordExecutor } from './record-executor.js';
import { repeat } from './repeat.js';
import { RunControl } from './run-control.js';
import { finishRun } from './run-finish.js';
import { checkUnchangedSince } from './source-check.js';
import { type ResolvedRunOptions } from './run-options.js';
import { type RunParts } from './run-setup.js';
import { type Progress } from './run-handle.js';

/** A run that its ledger has begun: every part present. */
export class Run {
  private readonly stats = { attempts: 0, retries: 0, retriesDeferred: 0, parkedAttempts: 0 };
  private readonly readerWaits: ReaderWaits; // the summary's `waits`
  /** Records read and not finished, in reading order: the oldest one holds the watermark. */
  private readonly window = new InFlightWindow<OpenRecord>(leftWindow);
  private readonly dispatcher: Dispatcher;
  private readonly executor: RecordExecutor;
  private readonly recorder: OutcomeRecorder;
  private readonly breaker: BreakerControl;
  private readonly gate: DependencyGate | undefined;
  private readonly fair: FairScheduler<OpenRecord> | undefined;
  private readonly limiter: KeyedBuckets | undefined; // token buckets, when the job has a rate limit
  private readonly adaptive: AdaptiveConcurrency | undefined; // the limit, with `concurrency: { min, max }`
  private readonly deadline: DeadlineWatch;
  private readonly reader: Reader;
  private lastRead: SourcePosition | undefined;
  private sourceExhausted = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly job: Job<any, any>,
    private readonly options: ResolvedRunOptions,
    private readonly parts: RunParts,
    private readonly control: RunControl,
    private readonly events: EngineEvents,
    escapes: EscapeListener,
    private readonly startedAtMs: number,
    runAttempt?: AttemptRunner,
  ) {
    const { clock } = options;
    this.fair = job.concurrencyKey ? new FairScheduler<OpenRecord>({ perKeyConcurrency: job.perKeyConcurrency }) : undefined;
    this.limiter =
      job.rateLimit || job.perKeyRateLimit ? new KeyedBuckets({ global: job.rateLimit, perKey: job.perKeyRateLimit }, clock) : undefined;
    const adaptive = (this.adaptive = options.concurrencyRange && new AdaptiveConcurrency(options.concurrencyRange, clock, events));
    this.dispatcher = new Dispatcher({
      limit: adaptive ? () => adaptive.limit() : () => options.concurrency,
      clock,
      fair: this.fair,
      // While the breaker is open a record that starts is parked by the executor, unrun (a probe runs).
      mayStart: () => !control.stopping,
      start: (entry) => this.attempt(entry),
      wake: () => this.wakeLoop(),
    });
    const move = (entry: OpenRecord, phase: Phase): void => this.dispatcher.move(entry, phase);
    this.breaker = new BreakerControl(job, clock, events, {
      parked: () => this.dispatcher.parked,
      running: () => this.dispatcher.count(Phase.running),
      release: () => {
        const released = this.dispatcher.releaseParked();
        this.stats.parkedAttempts += released.attempts;
        return released.records;
      },
      takeProbe: () => this.dispatcher.takeProbe(),
      // Once it holds its fairness key's slot, if the job has keys.
      probeWith: (entry) => this.dispatcher.startProbe(entry),
      abort: (trip, error) => {
        const cause = error ? `; dominating error: ${error.name}: ${error.message}` : '';
        const reason = `the breaker opened (${trip.description}) and did not recover within ${job.breaker.maxOpenMs} ms${cause}; progress is saved, and the records hit by the outage are pending`;
        events.emit({ type: 'run:aborted', reason });
        control.end({ kind: 'aborted', reason, by: 'breaker' });
      },
      wake: () => this.wakeLoop(),
    });
    this.recorder = new OutcomeRecorder({
      job,
      events,
      checkpointer: parts.checkpointer,
      selector: parts.selector,
      window: this.window,
      startWatermark: parts.resume.watermark,
      lastRead: () => this.lastRead,
      oldestStored: () => this.gate?.oldestStored(),
      move,
      settled: (entry, status) => this.gate?.settled(entry, status),
      commitFailed: (error) => this.ledgerFailed(error),
      keepFailure: (error) => control.end({ kind: 'ledger-failed', error }, false),
      ledgerFailed: () => control.ending?.kind === 'ledger-failed',
      commitsAhead: () => parts.ledger.commitsAhead ?? 0,
    });
    this.gate =
      parts.dependencies &&
      new DependencyGate(
        job,
        parts.dependencies,
        {
          run: (entry) => this.dispatcher.ready(entry),
          skip: (entry, blockedBy) => this.recorder.skipped(entry, blockedBy),
          invalid: (entry, message) => this.recorder.invalidEntry(entry, message),
          setAside: (entry) => {
            this.dispatcher.move(entry, Phase.setAside);
            entry.record = undefined;
          },
          failed: (error) => control.end({ kind: 'source-failed', error }),
        },
        // Crash group members are known by their entries (dispatcher.runOnly): records then wait whole.
        () => !parts.crashGuard.careful,
        parts.recordReader,
      );
    this.executor = new RecordExecutor({
      job,
      clock,
      random: options.random,
      events,
      stats: this.stats,
      move,
      onSucceeded: (entry, value) => this.succeeded(entry, value),
      onOutcome: (entry, outcome) => {
        this.recorder.ended(entry, outcome);
        this.refill();
      },
      stopping: () => control.stopping,
      // Off, it is not asked at all: no window to keep up on every attempt.
      budget: job.retryBudget.enabled ? new RetryBudget(job.retryBudget) : undefined,
      breaker: this.breaker,
      recordedFailure: parts.recordedFailure,
      limiter: this.limiter,
      onParked: (entry) => this.dispatcher.park(entry),
      onTokenWait: (entry, waitMs) => this.dispatcher.tokenWait(entry, waitMs),
      onRetryWait: (entry, delayMs) => this.dispatcher.retryWait(entry, delayMs),
      onRetryEnded: (served) => this.dispatcher.retryEnded(served),
      // Every attempt's end leads to a pump (an outcome, a retry wait, parking), which uses a raised limit.
      onAttemptEnded: adaptive && ((entry, kind) => adaptive.ended(kind, entry.attemptStartedAtMs, this.dispatcher.count(Phase.running))),
      onHeld: () => this.refill(),
      escapes: options.attributeEscapes ? escapes : undefined,
      steps: ledgerSteps(parts.ledger, parts.runId),
      runAttempt,
    });
    this.deadline = new DeadlineWatch(resolveDeadline(options.deadline, startedAtMs), clock, (limit, description) => {
      if (control.stopping) return;
      events.emit({ type: 'run:deadline', reason: description });
      control.end({ kind: 'deadline', limit, description });
    });
    const entryDeps = {
      job,
      keys: parts.keys,
      fairness: this.fair !== undefined,
      window: this.window,
      entered: (entry: OpenRecord) => this.dispatcher.entered(entry),
      invalid: (position: SourcePosition, message: string, key?: string) => this.recorder.invalid(position, message, key),
    };
    if (!options.rerun && job.breaker.enabled) watchInvalidStart(entryDeps, events, control, job.redact);
    this.readerWaits = new ReaderWaits(() => clock.now());
    this.reader = new Reader({
      job,
      selector: parts.selector,
      guard: parts.crashGuard,
      deadline: this.deadline,
      waits: this.readerWaits,
      signal: control.signal,
      stopping: () => control.stopping,
      // While it is open the reader takes a record now and then, for the probes (a fresh one is parked unrun).
      breakerAdmits: () => this.breaker.closed || (!this.job.healthCheck && this.dispatcher.wantsFresh()),
      woken: () => this.woken(),
      full: () => this.dispatcher.full(),
      idle: () => !this.dispatcher.busy(false),
      runOnly: (members) => (members ? this.dispatcher.runOnly(members) : this.dispatcher.runAll()),
      read: (position) => this.read(position),
      enter: (item) => enterRecord(item, entryDeps),
      launch: (entry) => this.launch(entry),
      crashed: (entry, crashes) => this.recorder.crashed(entry, crashes),
      commitBuffered: () => this.recorder.commitBuffered(),
      commitAll: () => this.recorder.commitAll(),
      commitInProgress: () => this.recorder.commitInProgress,
      sourceFailed: (error) => control.end({ kind: 'source-failed', error }),
      sourceEnded: () => checkUnchangedSince(job, parts.fingerprint),
    });
    control.attach({
      stopBreaker: () => this.breaker.stop(),
      abandonWaiting: () => {
        for (const entry of this.openEntries()) if (entry.phase !== Phase.running) this.executor.abandon(entry);
        this.wakeLoop();
      },
      abandonAll: () => {
        for (const entry of this.openEntries()) this.executor.abandon(entry);
      },
    });
  }

  progress(): Progress {
    return {
      runId: this.parts.runId,
      read: this.lastRead ? this.lastRead.seq + 1 : 0,
      inFlight: this.dispatcher.active,
      succeeded: this.recorder.thisRun.succeeded,
      failed: this.recorder.thisRun.failed,
      skipped: this.recorder.thisRun.skipped,
      retrying: this.dispatcher.count(Phase.retryWait),
      alreadyDone: this.parts.resume.alreadyDone,
      retries: this.stats.retries,
      attempts: this.stats.attempts,
      startedAtMs: this.startedAtMs,
      stopping: this.control.stoppingFor,
      concurrencyLimit: this.dispatcher.limit,
      breaker: this.breaker.state,
      careful: this.parts.crashGuard.careful,
      bytesRead: this.lastRead?.offset,
      bytesTotal: this.parts.fingerprint?.size,
      sourceExhausted: this.sourceExhausted,
    };
  }

  /** source → reader → selector → dispatcher → executor → outcome → ledger, then the summary. */
  async execute(): Promise<Summary> {
    const { job, parts, control, events } = this;
    events.emit({
      type: 'run:started',
      runId: parts.runId,
      ledger: parts.ledger.location,
      alreadyDone: parts.resume.alreadyDone,
      resumedFrom: parts.resume.watermark?.seq,
      crashedRunId: parts.resume.crashedRunId,
      rerunSelected: parts.rerunSelected,
    });
    if (job.healthCheck && !control.stopping) {
      const health = await runHealthCheck(job.healthCheck, job.healthCheckPolicy, this.options.clock, control.signal);
      if (!health.ok && !('stopped' in health)) {
        const reason = `the health check failed ${health.attempts} time(s): ${health.error.name}: ${health.error.message}; no record was processed`;
        events.emit({ type: 'run:aborted', reason });
        control.end({ kind: 'aborted', reason, by: 'health-check' }, false);
        return this.finish(false);
      }
    }
    const exhausted = await this.process();
    return this.finish(exhausted);
  }

  /** Every record read and not finished: the window's, and the stored records read again. */
  private openEntries(): OpenRecord[] {
    const open = this.window.open();
    return this.gate ? [...open, ...this.gate.reopenedEntries()] : open;
  }

  private async finish(exhausted: boolean): Promise<Summary> {
    await this.gate?.close();
    return finishRun({
      job: this.job,
      options: this.options,
      parts: this.parts,
      ending: () => this.control.ending,
      recorder: this.recorder,
      exhausted,
      stats: this.stats,
      startedAtMs: this.startedAtMs,
      breaker: this.breaker,
      limiter: this.limiter,
      fair: this.fair,
      concurrency: this.adaptive?.summary(),
      waits: this.readerWaits.summary(),
      events: this.events,
    });
  }

  /** Reads and processes until the source ends or the run stops, then waits for what is still open. */
  private async process(): Promise<boolean> {
    const { clock } = this.options;
    const stopCommits = repeat(clock, this.job.checkpoint.everyMs, () => this.recorder.commitDue());
    // Timeouts are checked a tenth of timeoutMs apart (at most 1 s): an attempt ends by 1.1 × timeoutMs.
    const stopSweeps = repeat(clock, Math.min(1000, Math.max(1, this.job.timeoutMs / 10)), () => this.executor.sweep());
    const stopDeadlineTimer = this.deadline.start();
    let exhausted = false;
    this.breaker.start(this.options.sharedBreaker);
    try {
      if (!this.control.stopping) exhausted = this.sourceExhausted = await this.reader.run();
      for (;;) {
        // Records parked by an open breaker wait for it to close (or for the run to be aborted).
        while (this.dispatcher.busy(this.control.stopping)) await this.woken();
        // Nothing runs any more: what still waits, waits on keys the source does not have.
        if (exhausted && this.gate && !this.control.stopping && this.gate.failMissing() > 0) continue;
        break;
      }
    } finally {
      this.control.loopEnded();
      this.breaker.detach();
      stopCommits();
      stopSweeps();
      stopDeadlineTimer();
    }
    return exhausted;
  }

  private read(position: SourcePosition): void {
    this.lastRead = position;
    const { keys, fingerprint } = this.parts;
    // After KEY_ESTIMATE_AFTER records, the source's size tells how many keys to expect.
    if (position.seq === KEY_ESTIMATE_AFTER && keys && fingerprint?.size !== undefined && position.offset) {
      keys.reserve((fingerprint.size / (position.offset / position.seq)) * 1.1);
    }
  }

  /** The record goes to its dependencies' gate, then to the dispatcher. */
  private launch(entry: OpenRecord): void {
    if (this.gate) {
      let runNow: boolean;
      try {
        runNow = this.gate.admit(entry, entry.record);
      } catch (error) {
        // A dependency cycle: stop taking records, save what is done, then report it (exit code 2).
        this.control.end({ kind: 'config-error', error });
        return;
      }
      if (!runNow) {
        if (entry.phase !== Phase.done && entry.phase !== Phase.setAside) this.dispatcher.move(entry, Phase.waitingDeps);
        return;
      }
    }
    this.dispatcher.submit(entry);
  }

  /** Starts the record's next attempt once a stored crash note covers it. */
  private attempt(entry: OpenRecord): void {
    let noting: Promise<void> | undefined;
    try {
      // The SQLite ledger has written the note when starting() returns; another ledger's write is
      // on its way, and the handler is called once it is stored.
      noting = this.parts.crashGuard.starting(entry);
    } catch (error) {
      // The note could not be written: the run stops, and this record stays pending, unrun.
      this.ledgerFailed(error);
    }
    noting?.catch((error: unknown) => this.ledgerFailed(error));
    this.executor.attempt(entry, noting);
  }

  private ledgerFailed(error: unknown): void {
    this.control.end({ kind: 'ledger-failed', error });
    this.control.forceStop('the ledger could not be written');
  }

  private succeeded(entry: OpenRecord, value: unknown): boolean {
    let accepted = true;
    try {
      this.recorder.succeeded(entry, value);
    } catch (error) {
      // The output sink refused the result (a BigInt, a circular object): the record fails instead.
      this.recorder.ended(entry, this.executor.unwritable(entry, error));
      accepted = false;
    }
    this.refill();
    return accepted;
  }

  /** A record left its slot (an outcome, pending, held): the slot goes to the next record, the reader wakes. */
  private refill(): void {
    this.dispatcher.pump();
    this.wakeLoop();
  }

  /** Resolves at the next wakeLoop(): a record finished, a slot freed, the run is stopping. */
  private woken(): Promise<void> {
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  private wakeLoop(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** After this many records, the source's size tells how many keys to expect. */
const KEY_ESTIMATE_AFTER = 1024;
