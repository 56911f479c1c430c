/**
 * The engine's side of dependencies: decides, for each record read, whether it runs now, waits,
 * is skipped (blocked by a failed dependency) or closes a cycle; and, as outcomes come in, which
 * waiting records to run or skip. Cascades are worked through a queue, never by recursion, so a
 * failure at the top of a 100,000-record chain does not overflow the stack.
 */
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import type { Ledger, RecordKeys } from '../ledger/ledger.js';
import { DependencyTracker, type Release } from '../graph/dependency-tracker.js';
import { StatusBits } from '../graph/status-bits.js';
import type { OpenRecord } from './open-record.js';
import { thrownMessage, valueText } from '../policy/error-fields.js';

/** What the gate asks of the engine. */
export interface GateActions {
  /** Queue a record to run (it may wait for a free slot). */
  run(entry: OpenRecord): void;
  /** Record a skip: the record is blocked by a failed dependency. */
  skip(entry: OpenRecord, blockedBy: readonly string[]): void;
  /** Record an invalid record (a dependency that no record has). */
  invalid(entry: OpenRecord, message: string): void;
}

/**
 * What the ledger knows of dependencies: which records succeeded (ranges and rows), which failed
 * or were skipped (and their blocking chains). Records a re-run is about to redo count as not done yet.
 */
export async function loadDependencies(
  job: Job<any, any>,
  ledger: Ledger,
  keys: RecordKeys,
  redo: ReadonlySet<number>,
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
  return new DependencyTracker(keys, bits, blockedPaths, job.onDependencyFailure);
}

export class DependencyGate {
  constructor(
    private readonly job: Job<any, any>,
    private readonly tracker: DependencyTracker<OpenRecord>,
    private readonly actions: GateActions,
  ) {}

  get waiting(): number {
    return this.tracker.waiting;
  }

  /**
   * A record just read. Returns false when it was handled here (waiting or skipped) and the
   * engine must not run it now. Throws ConfigError when the record closes a dependency cycle.
   */
  admit(entry: OpenRecord, record: unknown): boolean {
    let deps: readonly string[];
    try {
      deps = (this.job.dependsOn as (record: unknown) => readonly string[])(record) ?? [];
      if (!Array.isArray(deps) || deps.some((dep) => typeof dep !== 'string' || dep === '')) {
        throw new Error(`it must return an array of non-empty keys; got ${valueText(deps)}`);
      }
    } catch (error) {
      this.fail(entry, `job.dependsOn failed: ${thrownMessage(error)}`);
      return false;
    }
    if (deps.length === 0) return true;
    const admission = this.tracker.admit(entry.key, entry.position.seq, deps, entry);
    switch (admission.kind) {
      case 'ready':
        entry.failedDependencies = admission.failedDependencies;
        return true;
      case 'waiting':
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
    const queue: Release<OpenRecord>[] = this.tracker.settled(entry.key, entry.position.seq, status, blockedBy);
    for (let next = queue.shift(); next; next = queue.shift()) {
      if (next.kind === 'ready') {
        next.waiter.entry.failedDependencies = next.failedDependencies;
        this.actions.run(next.waiter.entry);
      } else {
        this.actions.skip(next.waiter.entry, next.blockedBy);
        queue.push(...this.tracker.settled(next.waiter.key, next.waiter.seq, 'skipped', next.blockedBy));
      }
    }
  }

  /**
   * Once the source is exhausted and nothing runs: fails the records that depend on a key no record
   * has (kind invalid), and what they block. Returns how many it failed (0: nothing was waiting on
   * a missing key).
   */
  failMissing(): number {
    const missing = this.tracker.missing();
    for (const { waiter, missingKey } of missing) {
      if (waiter.released) continue; // already skipped by an earlier one's cascade
      this.tracker.remove(waiter);
      this.fail(waiter.entry, `depends on ${JSON.stringify(missingKey)}, which is not in the source (nor in the ledger)`);
    }
    return missing.length;
  }

  private fail(entry: OpenRecord, message: string): void {
    this.actions.invalid(entry, message);
    this.settled(entry, 'failed');
  }
}
