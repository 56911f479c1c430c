/**
 * Where outcomes go: counted for this run, told as events, and added to the group commit, which
 * writes them to the ledger with the watermark (the oldest open record's position). A pending
 * record has no outcome: it stays open in the window, so the watermark never passes it and the next
 * run processes it again.
 */
import type { AttemptsEnd, Outcome } from '../domain/outcome.js';
import { crashedOutcome, invalidOutcome, keyOfPosition } from '../domain/unusable-record.js';
import type { Job } from '../job.js';
import type { SourcePosition } from '../sources/source.js';
import type { InFlightWindow } from '../structures/in-flight-window.js';
import type { Checkpointer } from './checkpointer.js';
import type { EngineEvents } from './events.js';
import { Phase, type OpenRecord } from './open-record.js';
import type { Selector } from './selector.js';

export interface RecorderDeps {
  readonly job: Job<any, any>;
  readonly events: EngineEvents;
  readonly checkpointer: Checkpointer;
  readonly selector: Selector;
  /** The records read and not finished, in reading order. */
  readonly window: InFlightWindow<OpenRecord>;
  /** Where the run resumed: the watermark while nothing was read. */
  readonly startWatermark: SourcePosition | undefined;
  /** The last record read. */
  readonly lastRead: () => SourcePosition | undefined;
  /** The oldest record that waits stored as its position, or was read back and has no outcome (the dependency gate). */
  readonly oldestStored: () => SourcePosition | undefined;
  /** Moves a record to a phase (the dispatcher). */
  readonly move: (entry: OpenRecord, phase: Phase) => void;
  /** A record has its outcome: what waited on it may run (the dependency gate). */
  readonly settled: (entry: OpenRecord, status: 'succeeded' | 'failed') => void;
  /** The ledger could not be written: the run stops. */
  readonly commitFailed: (error: unknown) => void;
  /** A background commit's listener threw: kept as the run's failure, never lost. */
  readonly keepFailure: (error: unknown) => void;
  /** Whether the ledger failed (then nothing more is committed). */
  readonly ledgerFailed: () => boolean;
  /** Commits that may be on their way while the reader reads on (Ledger.commitsAhead, asked each time). */
  readonly commitsAhead: () => number;
}

export class OutcomeRecorder {
  /** This run's outcomes, for the summary. */
  readonly thisRun = { succeeded: 0, failed: 0, skipped: 0 };
  /** The commits on their way, oldest first (they are written one after another). */
  private readonly inProgress: Promise<void>[] = [];

  constructor(private readonly deps: RecorderDeps) {}

  /**
   * The commit the reader waits for before reading on: the one being written, when more than
   * `commitsAhead` are on their way; undefined when the reader may go on.
   */
  get commitInProgress(): Promise<void> | undefined {
    return this.inProgress.length > this.deps.commitsAhead() ? this.inProgress[0] : undefined;
  }

  /**
   * A record succeeded. Throws what the output sink threw when it refused the result (a BigInt, a
   * circular object): the record then fails instead.
   */
  succeeded(entry: OpenRecord, value: unknown): void {
    const full = this.deps.checkpointer.addSucceeded(entry, value);
    this.thisRun.succeeded++;
    if (full) this.commitInBackground();
    this.deps.settled(entry, 'succeeded');
  }

  /** A record failed, or stays pending. */
  ended(entry: OpenRecord, outcome: AttemptsEnd): void {
    if (outcome.status === 'pending') return;
    this.thisRun[outcome.status]++;
    if (this.deps.checkpointer.add(outcome)) this.commitInBackground();
    if (outcome.status === 'failed') this.deps.settled(entry, 'failed');
  }

  /** A record that ran alone each time the process died, `maxCrashes` times: failed, never run again. */
  crashed(entry: OpenRecord, crashes: { count: number; runIds: string[] }): void {
    this.finish(entry);
    const outcome = crashedOutcome(entry.key, entry.position, crashes, this.deps.job.maxCrashes);
    this.thisRun.failed++;
    this.failedEvent(outcome);
    if (this.deps.checkpointer.add(outcome)) this.commitInBackground();
    this.deps.settled(entry, 'failed');
  }

  /** The event of a record failed without a handler call (crashed, invalid). */
  private failedEvent(outcome: Outcome & { status: 'failed' }): void {
    const { key, kind, attempts, error, rule, fingerprint } = outcome;
    this.deps.events.emit({ type: 'record:failed', key, kind, attempts, counted: attempts, error, rule, fingerprint });
  }

  /** A record blocked by a failed dependency. */
  skipped(entry: OpenRecord, blockedBy: readonly string[]): void {
    this.finish(entry);
    this.thisRun.skipped++;
    this.deps.events.emit({ type: 'record:skipped', key: entry.key, blockedBy });
    if (this.deps.checkpointer.add({ status: 'skipped', key: entry.key, position: entry.position, blockedBy })) this.commitInBackground();
  }

  /** A record in the window that cannot be processed (a dependency no record has, `dependsOn` threw). */
  invalidEntry(entry: OpenRecord, message: string): void {
    this.finish(entry);
    this.invalid(entry.position, message, entry.key);
  }

  /** A record that cannot be processed at all; it never enters the window, so it fails at once. */
  invalid(position: SourcePosition, message: string, key = keyOfPosition(position)): void {
    this.thisRun.failed++;
    const outcome = invalidOutcome(key, position, message, this.deps.job.redact);
    this.failedEvent(outcome);
    if (this.deps.checkpointer.add(outcome)) this.commitInBackground();
  }

  /** Commits what is buffered, unless the ledger failed (before a crash group runs). */
  async commitBuffered(): Promise<void> {
    if (this.deps.checkpointer.buffered > 0 && !this.deps.ledgerFailed()) await this.commit(false);
  }

  /**
   * Commits what is buffered and waits for every commit on its way: true when each outcome recorded
   * so far is in the ledger (false when the ledger failed: the run is stopping).
   */
  async commitAll(): Promise<boolean> {
    await this.commitBuffered();
    while (this.inProgress.length > 0) await Promise.all(this.inProgress);
    return this.deps.checkpointer.buffered === 0 && !this.deps.ledgerFailed();
  }

  /** The time-based commit: what is buffered, in the background. */
  commitDue(): void {
    if (this.deps.checkpointer.buffered > 0 && !this.deps.ledgerFailed()) this.commitInBackground();
  }

  /** The run's last commit; `exhausted` when the source was read to its end. */
  async commitLast(exhausted: boolean): Promise<void> {
    this.deps.checkpointer.sampleNextCommit();
    if (!this.deps.ledgerFailed()) await this.commit(exhausted);
  }

  private finish(entry: OpenRecord): void {
    this.deps.move(entry, Phase.done);
    entry.record = undefined;
  }

  /** Everything before this position has an outcome (after this commit); undefined for re-runs. */
  private watermark(): SourcePosition | undefined {
    if (!this.deps.selector.movesWatermark) return undefined;
    this.deps.window.compact();
    const oldest = this.deps.window.oldest()?.position;
    const stored = this.deps.oldestStored();
    if (stored && (oldest === undefined || stored.seq < oldest.seq)) return stored;
    if (oldest) return oldest;
    return this.deps.lastRead() ?? this.deps.startWatermark ?? { seq: 0 };
  }

  private commit(exhausted: boolean): Promise<void> {
    const { checkpointer, selector, events } = this.deps;
    const moves = selector.movesWatermark;
    const lastRead = this.deps.lastRead();
    const seen = moves && lastRead ? lastRead.seq + 1 : 0;
    const watermark = this.watermark();
    // A measurement for metrics, not a policy input: the real elapsed time, whatever clock the run has.
    const startedMs = performance.now();
    const tracked = checkpointer
      .commit(watermark, seen, moves && exhausted)
      .then(
        () =>
          events.emit({
            type: 'checkpoint',
            committed: checkpointer.committed,
            watermark: watermark?.seq,
            durationMs: performance.now() - startedMs,
          }),
        (error: unknown) => this.deps.commitFailed(error),
      )
      .finally(() => {
        // The removed promise is this one, already settled.
        const at = this.inProgress.indexOf(tracked);
        if (at !== -1) void this.inProgress.splice(at, 1);
      });
    this.inProgress.push(tracked);
    return tracked;
  }

  /**
   * A commit that records keep running past (a full batch, the timer). commit() already turns a failed
   * write into a stopped run; anything its handlers throw is kept as the run's failure, never lost.
   */
  private commitInBackground(): void {
    this.commit(false).catch((error: unknown) => this.deps.keepFailure(error));
  }
}
