/**
 * The engine's side of dependencies: decides, for each record read, whether it runs now, waits,
 * is skipped (blocked by a failed dependency) or closes a cycle; and, as outcomes come in, which
 * waiting records to run or skip. Cascades are worked through a queue, never by recursion, so a
 * failure at the top of a 100,000-record chain does not overflow the stack.
 *
 * A waiting record from a source that can read a record again (JSONL and CSV files) is stored as
 * its position alone (dependency-tracker.ts) and its entry leaves the window: the gate then holds
 * the watermark at the oldest stored record until that record, read again and released, has its
 * outcome. Records of other sources, and those read while crash suspects run in groups (whose
 * members the crash guard knows by their entries), wait whole.
 */
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import type { Ledger, RecordKeys } from '../ledger/ledger.js';
import { DependencyTracker, type Release } from '../graph/dependency-tracker.js';
import { StatusBits } from '../graph/status-bits.js';
import type { RecordReader, SourcePosition } from '../sources/source.js';
import { thrownMessage } from '../policy/error-fields.js';
import type { OpenRecord } from './open-record.js';
import { dependenciesOf, recallFrom } from './stored-record.js';

/** What the gate asks of the engine. */
export interface GateActions {
  /** Queue a record to run (it may wait for a free slot). */
  run(entry: OpenRecord): void;
  /** Record a skip: the record is blocked by a failed dependency. */
  skip(entry: OpenRecord, blockedBy: readonly string[]): void;
  /** Record an invalid record (a dependency that no record has). */
  invalid(entry: OpenRecord, message: string): void;
  /** The record waits stored as its position: its entry leaves the window (phase `setAside`). */
  setAside(entry: OpenRecord): void;
  /** A stored record could not be read again (the source changed or became unreadable): the run stops. */
  failed(error: unknown): void;
}

/**
 * What the ledger knows of dependencies: which records succeeded (ranges and rows), which failed
 * or were skipped (and their blocking chains). Records a re-run is about to redo count as not done
 * yet. With `reader`, waiting records are stored as their positions and read again through it.
 */
export async function loadDependencies(
  job: Job<any, any>,
  ledger: Ledger,
  keys: RecordKeys,
  redo: ReadonlySet<number>,
  reader: RecordReader<unknown> | undefined,
): Promise<DependencyTracker<OpenRecord>> {
  const bits = new StatusBits();
  for await (const range of ledger.succeededRanges()) bits.setSucceededRange(range.first, range.last);
  const blockedPaths = new Map<string, readonly string[]>();
  for await (const row of ledger.rows({ statuses: ['succeeded', 'failed', 'skipped'] })) {
    if (redo.has(row.seq)) continue;
    if (row.status === 'succeeded') bits.setSucceeded(row.seq);
    else bits.setBlocked(row.seq);
    if (row.status === 'skipped' && row.blockedBy) blockedPaths.set(row.key, row.blockedBy);
  }
  const storing = reader && { recall: recallFrom(job, reader, keys) };
  return new DependencyTracker(keys, bits, blockedPaths, job.onDependencyFailure, storing);
}

export class DependencyGate {
  /** Stored records read again and not finished, with their slots (closed at their outcome). */
  private readonly reopened = new Map<OpenRecord, number>();

  constructor(
    private readonly job: Job<any, any>,
    private readonly tracker: DependencyTracker<OpenRecord>,
    private readonly actions: GateActions,
    /** Whether a waiting record may be stored as its position now (not while crash suspects run in groups). */
    private readonly mayStore: () => boolean,
    /** Closed at the end of the run. */
    private readonly reader?: RecordReader<unknown>,
  ) {}

  get waiting(): number {
    return this.tracker.waiting;
  }

  /** Stored records read again that have no outcome yet (a stop makes them pending, like any open record). */
  reopenedEntries(): OpenRecord[] {
    return [...this.reopened.keys()];
  }

  /** The position of the oldest stored record without an outcome: the watermark may not pass it. */
  oldestStored(): SourcePosition | undefined {
    return this.tracker.oldestStored();
  }

  /**
   * A record just read. Returns false when it was handled here (waiting, set aside or skipped) and
   * the engine must not run it now. Throws ConfigError when the record closes a dependency cycle.
   */
  admit(entry: OpenRecord, record: unknown): boolean {
    let deps: readonly string[];
    try {
      deps = dependenciesOf(this.job, record);
    } catch (error) {
      this.fail(entry, `job.dependsOn failed: ${thrownMessage(error)}`);
      return false;
    }
    if (deps.length === 0) return true;
    const store = this.mayStore() ? entry.position : undefined;
    const admission = this.tracker.admit(entry.key, entry.position.seq, deps, entry, store);
    switch (admission.kind) {
      case 'ready':
        entry.failedDependencies = admission.failedDependencies;
        return true;
      case 'waiting':
        return false;
      case 'stored':
        this.actions.setAside(entry);
        return false;
      case 'blocked':
        // Records read earlier may already wait on this one (a child before its parent).
        this.actions.skip(entry, admission.blockedBy);
        this.settled(entry, 'skipped', admission.blockedBy);
        return false;
      case 'cycle':
        throw new ConfigError(
          `dependency cycle: ${admission.cycle.join(' → ')}; a record cannot depend on itself, directly or through others`,
          { field: 'dependsOn' },
        );
    }
  }

  /** A record has its outcome: run or skip what waited on it, and so on down the line. */
  settled(entry: OpenRecord, status: 'succeeded' | 'failed' | 'skipped', blockedBy?: readonly string[]): void {
    this.closeStored(entry);
    try {
      const queue: Release<OpenRecord>[] = this.tracker.settled(entry.key, entry.position.seq, status, blockedBy);
      for (let next = queue.shift(); next; next = queue.shift()) {
        const released = next.waiter.entry;
        if (next.waiter.slot >= 0) this.reopened.set(released, next.waiter.slot);
        if (next.kind === 'ready') {
          released.failedDependencies = next.failedDependencies;
          this.actions.run(released);
        } else {
          this.actions.skip(released, next.blockedBy);
          this.closeStored(released);
          queue.push(...this.tracker.settled(next.waiter.key, next.waiter.seq, 'skipped', next.blockedBy));
        }
      }
    } catch (error) {
      // A stored record could not be read again: what is not released stays stored, and pending.
      this.actions.failed(error);
    }
  }

  /**
   * Once the source is exhausted and nothing runs: fails the records that depend on a key no record
   * has (kind invalid), and what they block. Returns how many it failed (0: nothing was waiting on
   * a missing key).
   */
  failMissing(): number {
    let missing;
    try {
      missing = this.tracker.missing();
    } catch (error) {
      this.actions.failed(error);
      return 0;
    }
    for (const { waiter, missingKey } of missing) {
      if (!this.tracker.isWaiting(waiter)) continue; // already skipped by an earlier one's cascade
      this.tracker.remove(waiter);
      if (waiter.slot >= 0) this.reopened.set(waiter.entry, waiter.slot);
      this.fail(waiter.entry, `depends on ${JSON.stringify(missingKey)}, which is not in the source (nor in the ledger)`);
    }
    return missing.length;
  }

  /** Closes the reader of stored records. */
  async close(): Promise<void> {
    await this.reader?.close();
  }

  /** A stored record read again has its outcome: its slot no longer holds the watermark. */
  private closeStored(entry: OpenRecord): void {
    if (this.reopened.size === 0) return;
    const slot = this.reopened.get(entry);
    if (slot === undefined) return;
    this.reopened.delete(entry);
    this.tracker.close(slot);
  }

  private fail(entry: OpenRecord, message: string): void {
    this.actions.invalid(entry, message);
    this.settled(entry, 'failed');
  }
}
