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
import { maskMessage } from '../../policy/fingerprint.js';
import type { SerializedError } from '../../policy/serialize-error.js';
import { mergeRanges, parseJson, toRecordRow } from './row-codec.js';
import { DEFAULT_LEASE, type ResolvedLeaseOptions } from '../lease.js';
import { storageFault } from '../storage-fault.js';
import { LedgerKeys, newKeys } from './ledger-keys.js';
import { prepareLedgerFile, removeNewLedger } from './ledger-file.js';
import { SqliteLease } from './sqlite-lease.js';
import { createSqliteDatabase, fileParts, type LedgerParts } from './ledger-parts.js';
import { loadNativeModule } from './native-module.js';
import { CrashNotes } from './crash-notes.js';
import { RunTimeline } from './run-timeline.js';
import { acceptSource, applySourceMap, checkSource } from './source-state.js';

type Row = Record<string, unknown>;

/** The optional narrowing fields of a RowFilter and their columns. */
const FILTER_COLUMNS = [
  ['fingerprint', 'fingerprint'],
  ['kind', 'kind'],
  ['runId', 'run_id'],
  ['key', 'key'],
] as const;

/** How the ledger is opened. */
export interface SqliteLedgerOptions {
  /** The run lease's expiry and renewal. @default DEFAULT_LEASE (15 s, renewed every 5 s) */
  lease?: ResolvedLeaseOptions;
  /**
   * Open an existing ledger for reading only (the dashboard): SQLite refuses every write on this
   * connection, and nothing is created or migrated. @default false
   */
  readOnly?: boolean;
}

function openReadOnly(path: string, options: SqliteLedgerOptions): SqliteLedger {
  loadNativeModule();
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
    return new SqliteLedger(db, path, options.lease ?? DEFAULT_LEASE, fileParts(path));
  } catch (error) {
    db?.close();
    if (error instanceof BatchguardError) throw error;
    throw new LedgerError('LEDGER_UNUSABLE', `cannot open the ledger ${path} for reading: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Opens (creating if needed) the SQLite ledger at `path`, checking its pages. Throws LedgerError or
 * StorageError (a damaged, empty or unwritable file) when it cannot.
 */
export function openSqliteLedger(path: string, options: SqliteLedgerOptions = {}): SqliteLedger {
  if (options.readOnly === true) return openReadOnly(path, options);
  let db: Database.Database | undefined;
  let created = false;
  // Before anything is created: an unbuilt module must not leave an empty ledger file behind.
  loadNativeModule();
  try {
    created = prepareLedgerFile(path);
    db = createSqliteDatabase(path, created);
    return new SqliteLedger(db, path, options.lease ?? DEFAULT_LEASE, fileParts(path));
  } catch (error) {
    db?.close();
    // A ledger this call created holds nothing yet: leaving it (0 bytes after a full disk) would
    // make every later run refuse it as damaged.
    if (created) removeNewLedger(path);
    if (error instanceof BatchguardError) throw error;
    throw (
      storageFault(error, path, 'opening the ledger', 'nothing was written') ??
      new LedgerError('LEDGER_UNUSABLE', `cannot open the ledger ${path}: ${(error as Error).message}`, { cause: error })
    );
  }
}

export class SqliteLedger implements Ledger {
  readonly location: string;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly crashNotes: CrashNotes;
  private readonly recordKeys: LedgerKeys;
  private readonly runTimeline: RunTimeline;

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
    this.recordKeys = new LedgerKeys(parts.keys, this.metaAccess, db, this.isNew);
    this.crashNotes = new CrashNotes(db);
    this.runTimeline = new RunTimeline(db);
    this.statements = {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      deleteMeta: db.prepare('DELETE FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      rangeAtOrBefore: db.prepare(
        'SELECT first_seq AS first, last_seq AS last, run_id AS runId FROM succeeded_ranges WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1',
      ),
      absorbRanges: db.prepare('DELETE FROM succeeded_ranges WHERE first_seq > ? AND first_seq <= ? RETURNING last_seq').pluck(),
      upsertRange: db.prepare(
        'INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (?, ?, ?) ON CONFLICT (first_seq) DO UPDATE SET last_seq = excluded.last_seq',
      ),
      upsertRow:
        db.prepare(`INSERT INTO records (seq, key, status, kind, attempts, error, fingerprint, template, rule, history, blocked_by, run_id, line, byte_offset, updated_at)
        VALUES (@seq, @key, @status, @kind, @attempts, @error, @fingerprint, @template, @rule, @history, @blockedBy, @runId, @line, @offset, @updatedAt)
        ON CONFLICT (seq) DO UPDATE SET key = excluded.key, status = excluded.status, kind = excluded.kind,
          attempts = excluded.attempts, error = excluded.error, fingerprint = excluded.fingerprint, template = excluded.template, rule = excluded.rule,
          history = excluded.history, blocked_by = excluded.blocked_by, run_id = excluded.run_id, line = excluded.line, byte_offset = excluded.byte_offset,
          updated_at = excluded.updated_at`),
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
      return await this.lease.acquire(start.runId, start.takeOver === true, take);
    } catch (error) {
      if (error instanceof BatchguardError) throw error;
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
    // Keys go to their own file, before the transaction that records its new length: a chunk whose
    // transaction fails is cut off at the next open (key-file.ts). It is written outside any
    // transaction, so the lease is checked first.
    const keys = this.recordKeys.write(() => this.lease.assertHeld());
    const write = this.db.transaction(() => {
      this.lease.check();
      if (keys) this.statements.setMeta.run('keys', JSON.stringify(keys));
      for (const range of batch.succeeded) this.writeRange(range, batch.runId);
      for (const row of batch.rows) {
        this.statements.upsertRow.run({
          seq: row.seq,
          key: row.key,
          status: row.status,
          kind: row.kind ?? null,
          attempts: row.attempts,
          error: row.error ? JSON.stringify(row.error) : null,
          fingerprint: row.fingerprint ?? null,
          template: row.template ?? null,
          rule: row.rule ?? null,
          history: row.history && row.history.length > 0 ? JSON.stringify(row.history) : null,
          blockedBy: row.blockedBy ? JSON.stringify(row.blockedBy) : null,
          runId: row.runId,
          line: row.line ?? null,
          offset: row.offset ?? null,
          updatedAt: row.updatedAt,
        });
      }
      if (batch.watermark) this.statements.setMeta.run('watermark', JSON.stringify(batch.watermark));
      if (batch.sourceSample) this.statements.setMeta.run('source_sample', JSON.stringify(batch.sourceSample));
      const seen = Number(this.meta('seen') ?? 0);
      if (batch.seen > seen) this.statements.setMeta.run('seen', String(batch.seen));
      if (batch.exhausted) this.statements.setMeta.run('exhausted', 'true');
      if (batch.outputState) this.statements.setMeta.run('output_state', JSON.stringify(batch.outputState));
      this.crashNotes.clearFinished(batch);
      this.runTimeline.add(batch);
    });
    write.immediate();
    if (keys) this.recordKeys.committed(keys);
  }

  async assertHeld(): Promise<void> {
    try {
      this.file.check();
      this.lease.assertHeld();
    } catch (error) {
      throw storageFault(error, this.location, 'checking the lease on', 'every earlier commit is intact') ?? error;
    }
  }

  /**
   * Stores a range of first-time successes: it extends the run's range that it continues (one row
   * per contiguous run of successes), and what is already stored is not stored again. The range it
   * continues is looked up, not remembered between commits: a remembered range is wrong after its
   * transaction rolled back, and a batch written twice must not count its successes twice.
   */
  private writeRange(range: SeqRange, runId: string): void {
    let { first, last } = range;
    const before = this.statements.rangeAtOrBefore.get(first) as { first: number; last: number; runId: string } | undefined;
    if (before) {
      if (before.last >= last) return;
      if (before.runId === runId && before.last >= first - 1) first = before.first;
      else if (before.last >= first) first = before.last + 1;
    }
    for (const end of this.statements.absorbRanges.all(first, last) as number[]) last = Math.max(last, end);
    this.statements.upsertRange.run(first, last, runId);
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

  // The crash note is written at once, in its own transaction that checks the lease.
  async noteInFlight(note: InFlightNote): Promise<void> {
    this.fenced(() => this.crashNotes.note(note));
  }

  private fenced(write: () => void): void {
    try {
      this.db
        .transaction(() => {
          this.lease.check();
          write();
        })
        .immediate();
    } catch (error) {
      throw storageFault(error, this.location, 'writing a crash note to', 'every earlier commit is intact') ?? error;
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
    const inRanges = Number(this.db.prepare('SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM succeeded_ranges').pluck().get());
    const byStatus = this.db.prepare('SELECT status, COUNT(*) AS n FROM records GROUP BY status').all() as { status: string; n: number }[];
    const count = (status: string): number => byStatus.find((r) => r.status === status)?.n ?? 0;
    const succeeded = inRanges + count('succeeded');
    const failed = count('failed');
    const skipped = count('skipped');
    const finished = succeeded + failed + skipped;
    const total = Math.max(Number(this.meta('seen') ?? 0), finished);
    return { total, succeeded, failed, skipped, pending: total - finished, sourceExhausted: this.meta('exhausted') === 'true' };
  }

  async topErrors(limit: number, sampleKeys: number): Promise<ErrorGroup[]> {
    const groups = this.db
      .prepare(
        `SELECT fingerprint, COUNT(*) AS count, MIN(seq) AS firstSeq FROM records
      WHERE status = 'failed' GROUP BY fingerprint ORDER BY count DESC, fingerprint LIMIT ?`,
      )
      .all(limit) as Row[];
    const first = this.db.prepare('SELECT error, kind, rule FROM records WHERE seq = ?');
    const samples = this.db.prepare("SELECT key FROM records WHERE status = 'failed' AND fingerprint IS ? ORDER BY seq LIMIT ?").pluck();
    const templates = this.db.prepare(`SELECT template, COUNT(*) AS count, MIN(seq) AS firstSeq FROM records
      WHERE status = 'failed' AND fingerprint IS ? GROUP BY template ORDER BY count DESC, firstSeq LIMIT ?`);
    const templateSamples = this.db
      .prepare("SELECT key FROM records WHERE status = 'failed' AND fingerprint IS ? AND template IS ? ORDER BY seq LIMIT ?")
      .pluck();
    return groups.map((group) => {
      const row = first.get(group.firstSeq) as Row | undefined;
      const error = JSON.parse(String(row?.error ?? '{}')) as SerializedError;
      return {
        fingerprint: String(group.fingerprint ?? ''),
        name: error.name ?? 'Error',
        message: error.message ?? '',
        ...(error.code !== undefined ? { code: error.code } : {}),
        ...(typeof row?.kind === 'string' ? { kind: row.kind } : {}),
        ...(typeof row?.rule === 'string' ? { rule: row.rule } : {}),
        count: Number(group.count),
        sampleKeys: samples.all(group.fingerprint, sampleKeys) as string[],
        templates: (templates.all(group.fingerprint, TEMPLATES_PER_GROUP) as Row[]).map((t) => ({
          // Rows written before templates were stored have none: their first message, masked, stands in.
          template: typeof t.template === 'string' ? t.template : maskMessage(firstMessage(first.get(t.firstSeq) as Row | undefined)),
          count: Number(t.count),
          sampleKeys: templateSamples.all(group.fingerprint, t.template, sampleKeys) as string[],
        })),
      };
    });
  }

  async timeline(runId: string): Promise<TimelinePoint[]> {
    return this.runTimeline.read(runId);
  }

  async runs(limit: number): Promise<RunRecord[]> {
    const rows = this.db.prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as Row[];
    return rows.map((r) => ({
      runId: String(r.run_id),
      startedAt: String(r.started_at),
      endedAt: (r.ended_at as string | null) ?? undefined,
      status: String(r.status),
      pid: Number(r.pid),
      host: String(r.host),
      summary: r.summary ? JSON.parse(String(r.summary)) : undefined,
    }));
  }

  async *rows(filter: RowFilter): AsyncIterable<RecordRow> {
    const where = [`status IN (${filter.statuses.map(() => '?').join(', ')})`];
    const params: unknown[] = [...filter.statuses];
    for (const [field, column] of FILTER_COLUMNS) {
      const value = filter[field];
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      params.push(value);
    }
    const statement = this.db.prepare(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY seq`);
    for (const row of statement.iterate(...params) as Iterable<Row>) yield toRecordRow(row);
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
    return newKeys(expectedKeys);
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
    if (!lease) return undefined;
    return {
      runId: lease.runId,
      pid: lease.pid,
      host: lease.host,
      acquiredAt: new Date(lease.acquiredAtMs).toISOString(),
      expiresAt: new Date(lease.expiresAtMs).toISOString(),
      token: lease.token,
    };
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

/** Templates listed under each of the summary's top error groups. */
const TEMPLATES_PER_GROUP = 3;

function firstMessage(row: Row | undefined): string {
  const error = parseJson<{ message?: unknown }>(typeof row?.error === 'string' ? row.error : undefined);
  return typeof error?.message === 'string' ? error.message : '';
}
