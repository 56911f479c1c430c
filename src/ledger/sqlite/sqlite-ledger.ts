/**
 * The default ledger: one SQLite file per job, in WAL mode, written by one run at a time.
 *
 * synchronous=NORMAL in WAL mode: a commit survives the process dying at any point (SIGKILL, OOM, a
 * native crash) because it is in the operating system's cache once written. A power loss or kernel
 * crash may lose the commits since the last WAL checkpoint; the file stays consistent and the next
 * run redoes those records. FULL (an fsync per commit) measured 2-3 ms per commit here, as much as
 * the whole loop spends on 1000 no-op records, so it is not the default (docs/semantics.md).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { BatchguardError, LedgerError } from '../../errors.js';
import type { SourceFingerprint, SourceSample } from '../../sources/source.js';
import type {
  CommitBatch,
  ErrorGroup,
  InFlightNote,
  Ledger,
  LedgerCounts,
  LeaseHolder,
  RecordKeys,
  RecordRow,
  ResumeState,
  RowFilter,
  RunRecord,
  RunStart,
  SeqRange,
  TimelinePoint,
  SourceRemap,
  StoredSource,
} from '../ledger.js';
import { SCHEMA_VERSION } from './schema.js';
import { mergeRanges, parseJson } from '../row-codec.js';
import { readCounts, readErrorGroups, readRows, readRuns } from './ledger-reads.js';
import { OutcomeWriter } from './outcome-writer.js';
import { leaseHolder, stoppedWaiting, type ResolvedLeaseOptions } from '../lease.js';
import { storageFault } from '../storage-fault.js';
import type { KeyFileState } from './key-file.js';
import { keyIndexFor } from '../../structures/key-index.js';
import { LedgerKeys } from './ledger-keys.js';
import { SqliteLease } from './sqlite-lease.js';
import type { LedgerParts } from './ledger-parts.js';
import { CrashNotes } from './crash-notes.js';
import { RunTimeline } from './run-timeline.js';
import { DurableSteps } from './durable-steps.js';
import { acceptSource, checkSource } from '../source-state.js';
import { applySourceMap } from './sqlite-source-map.js';

export class SqliteLedger implements Ledger {
  readonly location: string;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly crashNotes: CrashNotes;
  private readonly recordKeys: LedgerKeys;
  private commitTransaction: Database.Transaction<(batch: CommitBatch) => KeyFileState | undefined> | undefined;
  private readonly runTimeline: RunTimeline;
  private readonly outcomes: OutcomeWriter;
  private readonly steps: DurableSteps;

  private readonly lease: SqliteLease;
  private readonly file: { check(): void };
  private readonly parts: LedgerParts;
  /** No run had started on this ledger when it was opened. */
  private readonly isNew: boolean;

  constructor(db: Database.Database, location: string, leaseOptions: ResolvedLeaseOptions, parts: LedgerParts) {
    this.db = db;
    this.location = location;
    this.parts = parts;
    this.lease = new SqliteLease(db, location, leaseOptions, parts.lock);
    this.file = parts.file;
    this.checkSchema();
    this.isNew = db.prepare('SELECT COUNT(*) FROM runs').pluck().get() === 0;
    this.recordKeys = new LedgerKeys(parts.keys, this.metaAccess, db, this.isNew, parts.keyRuns, parts.keySpillKeys);
    this.crashNotes = new CrashNotes(db);
    this.runTimeline = new RunTimeline(db);
    this.outcomes = new OutcomeWriter(db);
    this.steps = new DurableSteps(db);
    this.statements = {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      deleteMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    };
  }

  private checkSchema(): void {
    const version = this.db.prepare("SELECT value FROM meta WHERE key = 'schema'").pluck().get() as string | undefined;
    if (version === undefined) {
      this.db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
    } else if (Number(version) > SCHEMA_VERSION) {
      throw new LedgerError(
        'LEDGER_UNUSABLE',
        `the ledger ${this.location} has schema ${version}, written by a newer batchguard; this batchguard reads schema ${SCHEMA_VERSION}: upgrade batchguard to use this ledger (nothing was changed in it)`,
      );
    } else if (Number(version) !== SCHEMA_VERSION) {
      throw new LedgerError(
        'LEDGER_UNUSABLE',
        `the ledger ${this.location} has schema ${version}; this batchguard reads schema ${SCHEMA_VERSION}`,
      );
    }
  }

  private meta(key: string): string | undefined {
    return this.statements.getMeta.get(key) as string | undefined;
  }

  async begin(start: RunStart): Promise<ResumeState> {
    const now = new Date().toISOString();
    const take = (previous: { runId: string } | undefined): ResumeState => {
      let crashedRunId: string | undefined;
      if (previous) {
        crashedRunId = previous.runId;
        this.db.prepare("UPDATE runs SET status = 'crashed', ended_at = ? WHERE run_id = ? AND ended_at IS NULL").run(now, previous.runId);
      }
      const drift = checkSource(this.metaAccess, this.location, start.fingerprint, start.sample, start.acceptDrift, start.headHash);
      if (crashedRunId) this.crashNotes.recordCrash(crashedRunId);
      else this.crashNotes.clear();
      this.db
        .prepare('INSERT INTO runs (run_id, started_at, status, pid, host, options) VALUES (?, ?, ?, ?, ?, ?)')
        .run(start.runId, now, 'running', process.pid, hostname(), JSON.stringify(start.options));
      this.statements.setMeta.run('job', start.job);
      if (this.isNew && this.meta('keys') === undefined) {
        // A new ledger commits an empty key file from its first run on, so that only ledgers of an
        // older batchguard ever lack that state; a key file left by a deleted ledger is refused here.
        this.recordKeys.open();
        this.statements.setMeta.run('keys', JSON.stringify({ bytes: 0, crc: 0 }));
      }
      return { ...this.resumeState(crashedRunId), ...(drift ? { drift } : {}) };
    };
    try {
      return await this.lease.acquire(start.runId, start.takeOver === true, take, start.waiting);
    } catch (error) {
      if (error instanceof BatchguardError || stoppedWaiting(start, error)) throw error;
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') {
        // No lease can say this: another process sits on SQLite's write lock (frozen mid-commit).
        throw new LedgerError(
          'LEDGER_LOCKED',
          `the ledger ${this.location} stayed locked by another process for 5 s (a run stopped in the middle of a commit, or a tool holding a write transaction open); continue or end that process, then run again`,
          { cause: error },
        );
      }
      throw (
        storageFault(error, this.location, 'starting a run on', 'nothing was written') ??
        new LedgerError('LEDGER_UNUSABLE', `cannot start a run on the ledger ${this.location}: ${(error as Error).message}`, {
          cause: error,
        })
      );
    }
  }

  private resumeState(crashedRunId: string | undefined): ResumeState {
    const watermark = parseJson<ResumeState['watermark']>(this.meta('watermark'));
    const floor = watermark?.seq ?? 0;
    const ranges = this.db
      .prepare('SELECT first_seq AS first, last_seq AS last FROM succeeded_ranges WHERE last_seq >= ? ORDER BY first_seq')
      .all(floor) as SeqRange[];
    const rows = this.db.prepare('SELECT seq FROM records WHERE seq >= ? ORDER BY seq').pluck().all(floor) as number[];
    const counts = this.countsNow();
    return {
      watermark,
      finishedAbove: mergeRanges(ranges, rows),
      alreadyDone: counts.succeeded + counts.failed + counts.skipped,
      crashedRunId,
      outputState: parseJson(this.meta('output_state')),
      crashes: this.crashNotes.evidence(),
    };
  }

  async commit(batch: CommitBatch): Promise<void> {
    try {
      this.commitNow(batch);
    } catch (error) {
      throw storageFault(error, this.location, 'writing a commit to', 'every earlier commit is intact') ?? error;
    }
  }

  private commitNow(batch: CommitBatch): void {
    this.file.check();
    // One transaction a commit, created once: a second one to check the lease before the key file
    // was written, and a new wrapper each time, were a quarter of a no-op run's commit time.
    this.commitTransaction ??= this.db.transaction((batch: CommitBatch) => this.writeBatch(batch));
    const keys = this.commitTransaction.immediate(batch);
    if (keys) this.recordKeys.committed(keys);
  }

  /** The body of a commit's transaction; returns the key file's state to adopt once it committed. */
  private writeBatch(batch: CommitBatch): KeyFileState | undefined {
    // The lease first: a run that lost it writes nothing, the key file included.
    this.lease.checkAndRenew();
    // Keys go to their own file, under SQLite's write lock, before the row that records its new
    // length: a chunk whose transaction fails is cut off at the next open (key-file.ts).
    const keys = this.recordKeys.write();
    if (keys) this.statements.setMeta.run('keys', JSON.stringify(keys));
    for (const range of batch.succeeded) this.outcomes.writeRange(range, batch.runId);
    for (const row of batch.rows) this.outcomes.writeRow(row);
    if (batch.watermark) this.statements.setMeta.run('watermark', JSON.stringify(batch.watermark));
    if (batch.sourceSample) this.statements.setMeta.run('source_sample', JSON.stringify(batch.sourceSample));
    const seen = Number(this.meta('seen') ?? 0);
    if (batch.seen > seen) this.statements.setMeta.run('seen', String(batch.seen));
    if (batch.exhausted) this.statements.setMeta.run('exhausted', 'true');
    if (batch.outputState) this.statements.setMeta.run('output_state', JSON.stringify(batch.outputState));
    this.crashNotes.clearFinished(batch);
    this.runTimeline.add(batch);
    return keys;
  }

  async assertHeld(): Promise<void> {
    try {
      this.file.check();
      this.lease.assertHeld();
    } catch (error) {
      throw storageFault(error, this.location, 'checking the lease on', 'every earlier commit is intact') ?? error;
    }
  }

  async finish(runId: string, status: string, summary: unknown): Promise<void> {
    try {
      this.file.check();
      this.db
        .transaction(() => {
          this.lease.release();
          this.db
            .prepare('UPDATE runs SET status = ?, ended_at = ?, summary = ? WHERE run_id = ?')
            .run(status, new Date().toISOString(), JSON.stringify(summary), runId);
          this.crashNotes.clear();
        })
        .immediate();
    } catch (error) {
      throw storageFault(error, this.location, 'recording the end of the run in', 'every earlier commit is intact') ?? error;
    }
  }

  // Written at once, in its own transaction that checks the lease: stored on return (no promise to wait for).
  noteInFlight(note: InFlightNote): undefined {
    this.fenced(() => this.crashNotes.note(note));
    return undefined;
  }

  completedSteps: Ledger['completedSteps'] = async (key) => this.steps.of(key);
  // Like the crash note: stored at once, in its own transaction that checks the lease.
  saveStep: Ledger['saveStep'] = async (runId, key, name, result) =>
    this.fenced(() => this.steps.save(runId, key, name, result), 'writing a step result to');

  private fenced(write: () => void, what = 'writing a crash note to'): void {
    try {
      this.db
        .transaction(() => {
          this.lease.check();
          write();
        })
        .immediate();
    } catch (error) {
      throw storageFault(error, this.location, what, 'every earlier commit is intact') ?? error;
    }
  }

  private readonly metaAccess = {
    get: (key: string): string | undefined => this.meta(key),
    set: (key: string, value: string): void => void this.statements.setMeta.run(key, value),
    remove: (key: string): void => void this.statements.deleteMeta.run(key),
  };

  async counts(): Promise<LedgerCounts> {
    return this.countsNow();
  }

  private countsNow(): LedgerCounts {
    return readCounts(this.db, (key) => this.meta(key));
  }

  async topErrors(limit: number, sampleKeys: number): Promise<ErrorGroup[]> {
    return readErrorGroups(this.db, limit, sampleKeys);
  }

  async timeline(runId: string): Promise<TimelinePoint[]> {
    return this.runTimeline.read(runId);
  }

  async runs(limit: number): Promise<RunRecord[]> {
    return readRuns(this.db, limit);
  }

  async *rows(filter: RowFilter): AsyncIterable<RecordRow> {
    yield* readRows(this.db, filter);
  }

  /**
   * A page is read synchronously, as the rows are: a step of async iteration a row was most of what
   * the report of a run's failures cost (a few promises each, with the escape scope's promise hook
   * called for each one while the run is watched), ~10-17 µs a failure (docs/benchmarks.md).
   */
  async *rowPages(filter: RowFilter): AsyncIterable<readonly RecordRow[]> {
    let page: RecordRow[] = [];
    for (const row of readRows(this.db, filter)) {
      page.push(row);
      if (page.length === ROW_PAGE) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  async *succeededRanges(): AsyncIterable<SeqRange> {
    yield* this.db
      .prepare('SELECT first_seq AS first, last_seq AS last FROM succeeded_ranges ORDER BY first_seq')
      .iterate() as Iterable<SeqRange>;
  }

  async keys(): Promise<RecordKeys> {
    return this.recordKeys.load();
  }

  newKeys(expectedKeys: number): RecordKeys {
    return keyIndexFor(expectedKeys);
  }

  async sourceState(): Promise<StoredSource> {
    return {
      fingerprint: parseJson<SourceFingerprint>(this.meta('source_fingerprint')),
      sample: parseJson<SourceSample>(this.meta('source_sample')),
    };
  }

  async acceptSource(fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): Promise<void> {
    this.db
      .transaction(() => {
        this.lease.check();
        acceptSource(this.metaAccess, fingerprint, sample, seen);
      })
      .immediate();
  }

  async applySourceMap(runId: string, fingerprint: SourceFingerprint | undefined, remap: SourceRemap): Promise<void> {
    const skip = this.recordKeys.committedBytes();
    const entries = this.recordKeys.remapEntries(remap.keys);
    this.db
      .transaction(() => {
        this.lease.check();
        applySourceMap(this.db, this.metaAccess, runId, fingerprint, remap, entries, skip);
      })
      .immediate();
    this.recordKeys.forget();
  }

  async inspect(): Promise<ResumeState> {
    return this.db.transaction(() => this.resumeState(undefined))();
  }

  async holder(): Promise<LeaseHolder | undefined> {
    const lease = this.lease.current();
    return lease && leaseHolder(lease, this.lease.holderGone(lease));
  }

  reportFolder(runId: string): string | undefined {
    return this.parts.reportsFolder === undefined ? undefined : join(this.parts.reportsFolder, runId);
  }

  async close(): Promise<void> {
    this.lease.close();
    this.recordKeys.close();
    if (this.parts.ownsDatabase && this.db.open) this.db.close();
  }
}

/** Rows in a page of `rowPages`: a few MB at most, with every error at its bound (serialize-error.ts). */
const ROW_PAGE = 128;
