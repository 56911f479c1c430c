/**
 * The reader: takes records from the source in order, asks the selector which to process, and hands
 * them to the run, waiting while the dispatcher has no room (so that memory stays bounded) and while
 * the breaker is open (an outage must not become failures). Crash suspects from an earlier run wait
 * for their group and run by themselves (crash-guard.ts).
 */
import type { Job } from '../job.js';
import { hasBufferedItems, type SourceItem, type SourcePosition } from '../sources/source.js';
import type { CrashGuard } from './crash-guard.js';
import type { DeadlineWatch } from './deadline-watch.js';
import type { ReaderWaits } from './reader-waits.js';
import { Phase, type OpenRecord } from './open-record.js';
import type { Selector } from './selector.js';
import { SourceFailure, sourceFailedError } from './source-failure.js';

export interface ReaderDeps {
  readonly job: Job<any, any>;
  readonly selector: Selector;
  readonly guard: CrashGuard<OpenRecord>;
  readonly deadline: DeadlineWatch;
  /** Where the reader waited (reader-waits.ts). */
  readonly waits: ReaderWaits;
  /** Aborted when the run stops: a source waiting for its next record gives up. */
  readonly signal: AbortSignal;
  /** Whether the run is stopping. */
  readonly stopping: () => boolean;
  /** Whether the breaker lets a record in: it is closed, or its probes want a fresh record. */
  readonly breakerAdmits: () => boolean;
  /** Resolves when something the reader may wait for changed (a record finished, a slot freed, a stop). */
  readonly woken: () => Promise<void>;
  /** Whether the reader must wait for room (the dispatcher). */
  readonly full: () => boolean;
  /**
   * Nothing runs or waits to run: no attempt, and no record waiting for a retry, a rate-limit token,
   * the breaker's verdict, the breaker to close, or a slot (the dispatcher's `busy`).
   */
  readonly idle: () => boolean;
  /** While a crash group runs, only its members start (others wait for its end); undefined: every record again. */
  readonly runOnly: (members: readonly OpenRecord[] | undefined) => void;
  /** A record was read (before anything else is done with it). */
  readonly read: (position: SourcePosition) => void;
  /** The record enters the window; undefined when it failed at once (it cannot be processed at all). */
  readonly enter: (item: SourceItem<unknown>) => OpenRecord | undefined;
  /** The record goes to its dependencies' gate, its fairness queue, or straight to an attempt. */
  readonly launch: (entry: OpenRecord) => void;
  /** A suspect that crashed the process `maxCrashes` times alone: it fails unrun. */
  readonly crashed: (entry: OpenRecord, crashes: { count: number; runIds: string[] }) => void;
  /** Commits what is buffered (before a crash group runs). */
  readonly commitBuffered: () => Promise<void>;
  /** Commits every outcome recorded so far; false when the ledger failed. */
  readonly commitAll: () => Promise<boolean>;
  /** The commit being written, if one is. */
  readonly commitInProgress: () => Promise<void> | undefined;
  /** The source failed: the run stops, commits what finished, then throws `error` (exit code 2). */
  readonly sourceFailed: (error: unknown) => void;
  /** At the source's end: throws when the source changed while the run read it (a source failure). */
  readonly sourceEnded: () => Promise<void>;
}

export class Reader {
  /** Records started this run (for `--max-records`). */
  private started = 0;
  private recordsRead = 0;

  constructor(private readonly deps: ReaderDeps) {}

  /** Reads to the end of the source (true) or until the run stops (false). */
  async run(): Promise<boolean> {
    try {
      const exhausted = await this.readItems();
      await this.runWaitingGroups();
      return exhausted;
    } catch (error) {
      // The source gave up because the run is stopping (its signal aborted): a stop, not an error.
      if (this.deps.stopping() && this.deps.signal.aborted) return false;
      if (!(error instanceof SourceFailure)) throw error;
      // Stop taking records, let the running ones finish and commit them; the run then reports it.
      this.deps.sourceFailed(sourceFailedError(this.deps.job.source.description, this.recordsRead, error.error));
      return false;
    }
  }

  private async readItems(): Promise<boolean> {
    const { job, selector, guard, deadline, stopping } = this.deps;
    // Iterated by hand, not with for-await, to tell the source's errors (from next()) from the engine's.
    let items: AsyncIterator<SourceItem<unknown>>;
    try {
      items = job.source.read(selector.from, this.deps.signal)[Symbol.asyncIterator]();
    } catch (error) {
      throw new SourceFailure(error);
    }
    let finished = false;
    try {
      const buffered = hasBufferedItems(items) ? items : undefined;
      for (;;) {
        // An item the source has already read is taken without a promise (see BufferedItemIterator).
        let item = buffered?.nextBuffered();
        if (item === undefined) {
          let step: IteratorResult<SourceItem<unknown>>;
          try {
            step = await items.next();
          } catch (error) {
            finished = true;
            throw new SourceFailure(error);
          }
          if (step.done) {
            finished = true;
            await this.sourceEnded();
            return true;
          }
          item = step.value;
        }
        // While the breaker is open no record is taken (an outage must not become failures), but for
        // one now and then that waits, unrun, to be a probe.
        if (!this.deps.breakerAdmits() && !stopping()) await this.breakerAdmitted();
        if (stopping()) return false;
        this.recordsRead = item.position.seq + 1;
        this.deps.read(item.position);
        const choice = selector.pick(item);
        if (choice === 'stop') return false;
        if (choice === 'process') {
          if (deadline.beforeRecord(this.started)) return false;
          const groupSize = guard.groupSize(item.position.seq);
          if (groupSize === undefined) {
            const covering = guard.cover(item.position.seq);
            if (covering) await this.waitFor('notesMs', covering);
            this.start(item);
          } else if (!(await this.holdSuspect(item, groupSize))) {
            return false;
          }
          this.started++;
          if (deadline.afterRecord(this.started)) return false;
        }
        if (guard.passedSuspects(item.position.seq) && !(await this.runWaitingGroups())) return false;
        if (this.deps.full() && !stopping()) await this.slotFreed();
        const committing = this.deps.commitInProgress();
        if (committing) await this.waitFor('ledgerMs', committing);
        if (stopping()) return false;
      }
    } finally {
      // What for-await does on an early exit: let the source close its file or cursor.
      if (!finished) await items.return?.();
    }
  }

  /** The source's end, checked (`sourceEnded`): its errors are the source's. */
  private async sourceEnded(): Promise<void> {
    try {
      await this.deps.sourceEnded();
    } catch (error) {
      throw new SourceFailure(error);
    }
  }

  /** Waits for a free slot (the window is full), counted as such (reader-waits.ts). */
  private async slotFreed(): Promise<void> {
    const since = this.deps.waits.started();
    // `while`, not `if`: a record finishing wakes this loop, but the slot it freed may already have
    // gone to a record whose dependencies it met, and the window must stay at the concurrency.
    while (this.deps.full() && !this.deps.stopping()) await this.deps.woken();
    this.deps.waits.ended('slotsMs', since);
  }

  /** Waits for the breaker to let a record in, counted as such. */
  private async breakerAdmitted(): Promise<void> {
    const since = this.deps.waits.started();
    while (!this.deps.breakerAdmits() && !this.deps.stopping()) await this.deps.woken();
    this.deps.waits.ended('breakerMs', since);
  }

  /** Waits for `done` (a commit, a crash note), counted as `kind`. */
  private async waitFor(kind: 'ledgerMs' | 'notesMs', done: Promise<void>): Promise<void> {
    const since = this.deps.waits.started();
    await done;
    this.deps.waits.ended(kind, since);
  }

  private start(item: SourceItem<unknown>): void {
    const entry = this.deps.enter(item);
    if (entry) this.deps.launch(entry);
  }

  /**
   * A crash suspect waits (in the window, so the watermark stays before it) for its group; a full
   * group runs. A suspect that crashed the process `maxCrashes` times alone fails unrun. Returns
   * false when the run stopped meanwhile.
   */
  private async holdSuspect(item: SourceItem<unknown>, groupSize: number): Promise<boolean> {
    const entry = this.deps.enter(item);
    if (!entry) return true;
    const crashes = this.deps.guard.quarantined(entry.position.seq);
    if (crashes) {
      this.deps.crashed(entry, crashes);
      return true;
    }
    const group = this.deps.guard.hold(entry, groupSize);
    return group ? this.runGroup(group) : true;
  }

  /** Runs the suspects still waiting for their group (reading passed them all), group by group. */
  private async runWaitingGroups(): Promise<boolean> {
    if (this.deps.stopping()) return false;
    for (const group of this.deps.guard.takeWaiting()) {
      if (!(await this.runGroup(group))) return false;
    }
    return true;
  }

  /**
   * Runs a group of suspects by itself (see crash-guard.ts), so that a crash now names the group,
   * the reading paused meanwhile (counted as `groupsMs`):
   * it starts when nothing else runs or waits to run (a record waiting for its retry holds no slot,
   * but its retry would run beside the group), only its members start while it runs, and it ends
   * when each member has its outcome (a member waiting to retry is still in the group). Returns
   * false when the run stopped meanwhile (the members not finished stay pending).
   */
  private async runGroup(group: OpenRecord[]): Promise<boolean> {
    const since = this.deps.waits.started();
    try {
      return await this.runGroupAlone(group);
    } finally {
      this.deps.waits.ended('groupsMs', since);
    }
  }

  private async runGroupAlone(group: OpenRecord[]): Promise<boolean> {
    const { guard, woken, idle, stopping } = this.deps;
    while (!idle() && !stopping()) await woken();
    // Commit what ran before (an earlier group): if this group kills the process, the earlier
    // one's members are cleared and do not run in a group again.
    await this.deps.commitBuffered();
    if (stopping()) return false;
    this.deps.runOnly(group);
    try {
      await guard.groupStarts(group);
      for (const entry of group) this.deps.launch(entry);
      while (!group.every(groupDone) && !stopping()) await woken();
      if (stopping()) return false;
      // With every member's outcome committed, the group's note blames none of them (a crash's
      // suspects are the noted records without a committed outcome), so no note is needed to
      // close it: one round trip less per group. A member left without an outcome (pending, or
      // waiting for a dependency) is cleared by a note that names nobody.
      if (group.every(hasOutcome) && (await this.deps.commitAll())) guard.groupClosed();
      else await guard.groupEnded();
    } finally {
      this.deps.runOnly(undefined);
    }
    return !stopping();
  }
}

function hasOutcome(entry: OpenRecord): boolean {
  return entry.phase === Phase.done;
}

/**
 * A member that is done with its group: it has its outcome, or stays pending, or never started
 * (it waits for a dependency outside the group; it runs later, by a note of its own).
 */
function groupDone(entry: OpenRecord): boolean {
  return entry.phase === Phase.done || entry.phase === Phase.pending || entry.phase === Phase.waitingDeps || entry.phase === Phase.setAside;
}
