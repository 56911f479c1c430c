/**
 * The PostgreSQL ledger: the SQLite ledger's semantics (../ledger.ts) in tables of a schema the
 * user chooses, shared by every job that uses it (each row carries its job's id). One run holds a
 * job's lease at a time; status, failures, reports and re-runs read the same tables from any
 * machine. Successes are stored as ranges and everything else as rows, as in SQLite, so a commit
 * of 1000 no-op successes writes one range row.
 *
 * Nothing is created before the first call that needs the database: opening is synchronous and
 * makes no connection (`ready()` creates or upgrades the schema on first use).
 */
import { hostname } from 'node:os';
import { ConfigError } from '../../errors.js';
import type { SourceFingerprint, SourceSample } from '../../sources/source.js';
import { leaseHolder, stoppedWaiting, type ResolvedLeaseOptions } from '../lease.js';
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
  SourceRemap,
  StoredSource,
  StoredStep,
  TimelinePoint,
} from '../ledger.js';
import type { ActiveSharedRun } from '../worker-ledger.js';
import { maskedMessageOf, TEMPLATES_PER_GROUP, toErrorGroup } from '../error-groups.js';
import { mergeRanges, parseJson, toLedgerCounts, toRecordRow, toRunRecord } from '../row-codec.js';
import { acceptSource, checkSource } from '../source-state.js';
import { readSharedRunIfAny } from './active-shared-run.js';
import { MetaBuffer } from './meta-buffer.js';
import { databaseFault, type PgDb, type Query, type Row } from './pg-db.js';
import { sessionEnded } from './session-ended.js';
import { PostgresCrashNotes } from './postgres-crash-notes.js';
import { keyIndexFor } from '../../structures/key-index.js';
import { PostgresKeys } from './postgres-keys.js';
import { PostgresLease } from './postgres-lease.js';
import { ledgerLocationIn } from './postgres-location.js';
import { prepareSchema } from './postgres-schema.js';
import { applyPostgresSourceMap } from './postgres-source-map.js';
import { rowFilterQuery } from './row-filter-query.js';
import { commitStatements, writeCommit, type CommitStatements } from './write-commit.js';
import { finishSql } from './sql/finish.js';
import { metaSql } from './sql/meta.js';
import { PAGE_ROWS, readsSql } from './sql/reads.js';
import { runsSql } from './sql/runs.js';
import { stepsSql } from './sql/steps.js';

const KEPT = 'every earlier commit is intact';

export class PostgresLedger implements Ledger {
  private jobId: number | undefined;
  private preparing: Promise<number> | undefined;
  private closing: Promise<void> | undefined;
  private readonly lease: PostgresLease;
  private readonly crashNotes: PostgresCrashNotes;
  private readonly recordKeys: PostgresKeys;
  private readonly sql;
  private readonly commitSql: CommitStatements;

  constructor(
    private readonly db: PgDb,
    readonly schema: string,
    private job: string | undefined,
    leaseOptions: ResolvedLeaseOptions,
  ) {
    const id = (): number => this.jobId as number;
    this.lease = new PostgresLease(db, schema, id, leaseOptions);
    this.crashNotes = new PostgresCrashNotes(schema, id);
    this.recordKeys = new PostgresKeys(schema);
    this.commitSql = commitStatements(schema);
    this.sql = {
      meta: metaSql(schema),
      reads: readsSql(schema),
      runs: runsSql(schema),
      steps: stepsSql(schema),
      finish: finishSql(schema),
    };
  }

  /** `postgres://user@host:port/database` and the schema: never the password. */
  get location(): string {
    return ledgerLocationIn(this.db.location, this.schema);
  }

  /** The schema, the job's rows and its id, made once, on first use. */
  private ready(job = this.job): Promise<number> {
    if (job === undefined) {
      throw new ConfigError('the PostgreSQL ledger was opened without a job name: open it with the job (openLedger(location, { job }))', {
        field: 'job',
      });
    }
    this.job = job;
    this.preparing ??= prepareSchema(this.db, this.schema, job).then(
      async ({ jobId, created }) => {
        this.jobId = jobId;
        // A ledger created just now has no crash suspects to count.
        if (!created) await this.crashNotes.load(this.db.query);
        return jobId;
      },
      (error: unknown) => {
        this.preparing = undefined;
        throw databaseFault(error, this.location, 'opening the ledger', 'nothing was written');
      },
    );
    return this.preparing;
  }

  /**
   * Runs `work` once the ledger is ready, turning database errors into the ledger's one-line error.
   * A session that ended under it is a lost lease when another run took the lease meanwhile.
   */
  private async use<T>(doing: string, kept: string, work: (jobId: number) => Promise<T>): Promise<T> {
    const jobId = await this.ready();
    try {
      return await work(jobId);
    } catch (error) {
      const taken = sessionEnded(error) ? await this.lease.takenSince().catch(() => undefined) : undefined;
      throw taken ?? databaseFault(error, this.location, doing, kept);
    }
  }

  async begin(start: RunStart): Promise<ResumeState> {
    const jobId = await this.ready(this.job ?? start.job);
    try {
      return await this.lease.acquire(
        start.runId,
        start.takeOver === true,
        async (query, previous) => {
          const now = new Date().toISOString();
          const crashedRunId = previous?.runId;
          if (crashedRunId !== undefined) await query(this.sql.runs.markCrashed, [jobId, crashedRunId, now]);
          // The crash note first: recordCrash reads and deletes it, which the meta read below then sees.
          if (crashedRunId !== undefined) await this.crashNotes.recordCrash(query, crashedRunId);
          const meta = await MetaBuffer.load(query, this.schema, jobId);
          const drift = checkSource(meta, this.location, start.fingerprint, start.sample, start.acceptDrift, start.headHash);
          this.crashNotes.clearIn(meta);
          await query(this.sql.runs.insert, [jobId, start.runId, now, process.pid, hostname(), JSON.stringify(start.options)]);
          meta.set('job', start.job);
          await meta.flush(query, this.schema, jobId);
          const resume = await this.resumeState(query, jobId, crashedRunId, (key) => meta.get(key));
          return { ...resume, ...(drift ? { drift } : {}) };
        },
        start.waiting,
      );
    } catch (error) {
      if (stoppedWaiting(start, error)) throw error;
      throw databaseFault(error, this.location, 'starting a run', 'nothing was written');
    }
  }

  /** Where a run resumes; `known`: the job's meta rows when the caller has them in this transaction. */
  private async resumeState(
    query: Query,
    jobId: number,
    crashedRunId: string | undefined,
    known?: (key: string) => string | undefined,
  ): Promise<ResumeState> {
    const meta = known ?? (await this.metaOf(query, jobId));
    const watermark = parseJson<ResumeState['watermark']>(meta('watermark'));
    const floor = watermark?.seq ?? 0;
    const ranges = (await query(this.sql.reads.rangesFrom, [jobId, floor])).rows.map(toRange);
    const seqs = (await query(this.sql.reads.rowSeqsFrom, [jobId, floor])).rows.map((row) => Number(row.seq));
    const counts = await this.countsWith(query, jobId);
    return {
      watermark,
      finishedAbove: mergeRanges(ranges, seqs),
      alreadyDone: counts.succeeded + counts.failed + counts.skipped,
      crashedRunId,
      outputState: parseJson(meta('output_state')),
      crashes: await this.crashNotes.evidence(query),
    };
  }

  private async metaOf(query: Query, jobId: number): Promise<(key: string) => string | undefined> {
    const rows = (await query(this.sql.meta.all, [jobId])).rows;
    return (key) => rows.find((row) => row.key === key)?.value as string | undefined;
  }

  async commit(batch: CommitBatch): Promise<void> {
    await this.use('writing a commit', KEPT, async (jobId) => {
      const extras = { keys: this.recordKeys.toCommit(), suspects: this.crashNotes.anyStored };
      this.crashNotes.cleared(await writeCommit(this.db, this.lease, this.commitSql, jobId, batch, extras));
    });
    this.recordKeys.committed();
  }

  async assertHeld(): Promise<void> {
    await this.use('checking the lease', KEPT, () => this.lease.assertHeld());
  }

  async finish(runId: string, status: string, summary: unknown): Promise<void> {
    await this.use('recording the end of the run', KEPT, (jobId) =>
      this.lease.release(async (token) => {
        const values = [jobId, token, runId, status, new Date().toISOString(), JSON.stringify(summary)];
        return (await this.db.query(this.sql.finish, values)).rows[0]?.released === true;
      }),
    );
    await this.lease.released().catch(() => {});
  }

  async noteInFlight(note: InFlightNote): Promise<void> {
    await this.use('writing a crash note', KEPT, () => this.crashNotes.note(this.db, this.lease, note));
  }

  async completedSteps(key: string): Promise<ReadonlyMap<string, StoredStep>> {
    return this.use('reading step results', '', async (jobId) => {
      const { rows } = await this.db.query(this.sql.steps.of, [jobId, key]);
      return new Map(rows.map((row) => [String(row.name), typeof row.result === 'string' ? { result: row.result } : {}]));
    });
  }

  async saveStep(runId: string, key: string, name: string, result: string | undefined): Promise<void> {
    await this.use('writing a step result', KEPT, async (jobId) => {
      const values = [jobId, this.lease.token, key, name, result ?? null, runId, new Date().toISOString()];
      const { rowCount } = await this.db.query(this.sql.steps.fencedSave, values);
      if (rowCount === 0) throw await this.lease.lostNow();
    });
  }

  async counts(): Promise<LedgerCounts> {
    return this.use('reading the counts', '', (jobId) => this.countsWith(this.db.query, jobId));
  }

  private async countsWith(query: Query, jobId: number): Promise<LedgerCounts> {
    const row = (await query(this.sql.reads.counts, [jobId])).rows[0] as Row;
    return toLedgerCounts({
      inRanges: Number(row.in_ranges),
      succeeded: Number(row.succeeded),
      failed: Number(row.failed),
      skipped: Number(row.skipped),
      seen: (row.seen as string | null) ?? undefined,
      exhausted: (row.exhausted as string | null) ?? undefined,
    });
  }

  async topErrors(limit: number, sampleKeys: number): Promise<ErrorGroup[]> {
    return this.use('reading the failure groups', '', async (jobId) => {
      const { reads } = this.sql;
      const q = this.db.query;
      const firstRow = async (seq: unknown): Promise<Row | undefined> => (await q(reads.rowAt, [jobId, seq])).rows[0];
      const keys = (rows: Row[]): string[] => rows.map((row) => String(row.key));
      const groups: ErrorGroup[] = [];
      for (const group of (await q(reads.errorGroups, [jobId, limit])).rows) {
        const templates = [];
        for (const t of (await q(reads.templates, [jobId, group.fingerprint, TEMPLATES_PER_GROUP])).rows) {
          templates.push({
            template: typeof t.template === 'string' ? t.template : maskedMessageOf(await firstRow(t.first_seq)),
            count: Number(t.count),
            sampleKeys: keys((await q(reads.templateSamples, [jobId, group.fingerprint, t.template, sampleKeys])).rows),
          });
        }
        const samples = keys((await q(reads.groupSamples, [jobId, group.fingerprint, sampleKeys])).rows);
        groups.push(toErrorGroup(group, await firstRow(group.first_seq), samples, templates));
      }
      return groups;
    });
  }

  async runs(limit: number): Promise<RunRecord[]> {
    return this.use('reading the runs', '', async (jobId) =>
      (await this.db.query(this.sql.reads.runs, [jobId, limit])).rows.map(toRunRecord),
    );
  }

  async timeline(runId: string): Promise<TimelinePoint[]> {
    return this.use('reading the timeline', '', async (jobId) =>
      (await this.db.query(this.sql.reads.timeline, [jobId, runId])).rows.map((row) => ({
        at: String(row.at),
        done: Number(row.done),
        failed: Number(row.failed),
      })),
    );
  }

  async *rows(filter: RowFilter): AsyncIterable<RecordRow> {
    const jobId = await this.ready();
    const { text, values } = rowFilterQuery(this.schema, jobId, filter);
    for (let after = -1; ;) {
      const page = await this.use('reading records', '', () => this.db.query(text, [...values, after]));
      for (const row of page.rows) yield toRecordRow(row);
      if (page.rows.length === 0 || page.rows.length < PAGE_ROWS) return;
      after = Number((page.rows[page.rows.length - 1] as Row).seq);
    }
  }

  async *succeededRanges(): AsyncIterable<SeqRange> {
    const jobId = await this.ready();
    for (let after = -1; ;) {
      const page = await this.use('reading success ranges', '', () => this.db.query(this.sql.reads.rangesPage, [jobId, after]));
      for (const row of page.rows) yield toRange(row);
      if (page.rows.length < PAGE_ROWS) return;
      after = Number((page.rows[page.rows.length - 1] as Row).first_seq);
    }
  }

  async keys(): Promise<RecordKeys> {
    return this.use('reading the record keys', '', (jobId) => this.recordKeys.load(this.db.query, jobId));
  }

  newKeys(expectedKeys: number): RecordKeys {
    return keyIndexFor(expectedKeys);
  }

  async sourceState(): Promise<StoredSource> {
    return this.use('reading the source state', '', async (jobId) => {
      const meta = await MetaBuffer.load(this.db.query, this.schema, jobId);
      return {
        fingerprint: parseJson<SourceFingerprint>(meta.get('source_fingerprint')),
        sample: parseJson<SourceSample>(meta.get('source_sample')),
      };
    });
  }

  async acceptSource(fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): Promise<void> {
    await this.use('recording the source', KEPT, (jobId) =>
      this.db.transaction(async (query) => {
        await this.lease.fence(query);
        const meta = await MetaBuffer.load(query, this.schema, jobId);
        acceptSource(meta, fingerprint, sample, seen);
        await meta.flush(query, this.schema, jobId);
      }),
    );
  }

  async applySourceMap(runId: string, fingerprint: SourceFingerprint | undefined, remap: SourceRemap): Promise<void> {
    await this.use('moving outcomes to the changed source', KEPT, (jobId) =>
      this.db.transaction(async (query) => {
        await this.lease.fence(query);
        const meta = await MetaBuffer.load(query, this.schema, jobId);
        await applyPostgresSourceMap(query, this.schema, jobId, {
          runId,
          fingerprint,
          remap,
          meta,
          crashNotes: this.crashNotes,
          keys: this.recordKeys,
        });
        await meta.flush(query, this.schema, jobId);
      }),
    );
  }

  async inspect(): Promise<ResumeState> {
    return this.use('reading where a run would resume', '', (jobId) =>
      this.db.transaction((query) => this.resumeState(query, jobId, undefined), 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY'),
    );
  }

  async holder(): Promise<LeaseHolder | undefined> {
    return this.use('reading the lease', '', async () => {
      const lease = await this.lease.current();
      return lease && leaseHolder(lease, await this.lease.holderGone(lease));
    });
  }

  async hasRuns(): Promise<boolean> {
    try {
      const found = await this.db.query('SELECT to_regclass($1) IS NOT NULL AS found', [`"${this.schema}".runs`]);
      if ((found.rows[0] as { found: boolean } | undefined)?.found !== true) return false;
      const runs = await this.db.query(
        `SELECT 1 FROM "${this.schema}".runs JOIN "${this.schema}".jobs USING (job_id) WHERE name = $1 LIMIT 1`,
        [this.job],
      );
      return runs.rows.length > 0;
    } catch (error) {
      throw databaseFault(error, this.location, "looking for the job's runs", 'nothing was written');
    }
  }

  async sharedRun(): Promise<ActiveSharedRun | undefined> {
    return this.use('looking for workers on the job', '', () => readSharedRunIfAny(this.db, this.schema, this.job as string));
  }

  /** None: run reports are in the database (`runs`, `records`), readable from any machine by `report` and `failures`. */
  reportFolder(): string | undefined {
    return undefined;
  }

  /** Stops the heartbeat and closes the connections (the lease's lock session first); a second call does nothing. */
  async close(): Promise<void> {
    this.lease.close();
    this.closing ??= this.db.end();
    await this.closing;
  }
}

function toRange(row: Row): SeqRange {
  return { first: Number(row.first_seq), last: Number(row.last_seq) };
}
