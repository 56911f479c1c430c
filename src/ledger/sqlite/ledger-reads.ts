/**
 * What the SQLite ledger reads for status, reports and re-runs: counts, failure groups, runs and
 * rows. Plain queries over the ledger's tables, outside any run.
 */
import type Database from 'better-sqlite3';
import { maskedMessageOf, TEMPLATES_PER_GROUP, toErrorGroup } from '../error-groups.js';
import type { ErrorGroup, LedgerCounts, RecordRow, RowFilter, RunRecord } from '../ledger.js';
import { toLedgerCounts, toRecordRow, toRunRecord } from '../row-codec.js';
import { filterConditions } from '../row-filter.js';

type Row = Record<string, unknown>;

/** The job's counts; `meta` reads the ledger's meta table. */
export function readCounts(db: Database.Database, meta: (key: string) => string | undefined): LedgerCounts {
  const inRanges = Number(db.prepare('SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM succeeded_ranges').pluck().get());
  const byStatus = db.prepare('SELECT status, COUNT(*) AS n FROM records GROUP BY status').all() as { status: string; n: number }[];
  const count = (status: string): number => byStatus.find((r) => r.status === status)?.n ?? 0;
  return toLedgerCounts({
    inRanges,
    succeeded: count('succeeded'),
    failed: count('failed'),
    skipped: count('skipped'),
    seen: meta('seen'),
    exhausted: meta('exhausted'),
  });
}

/** The failure groups of the summary, largest first, with their sample keys and message templates. */
export function readErrorGroups(db: Database.Database, limit: number, sampleKeys: number): ErrorGroup[] {
  const groups = db
    .prepare(
      `SELECT fingerprint, COUNT(*) AS count, MIN(seq) AS firstSeq FROM records
    WHERE status = 'failed' GROUP BY fingerprint ORDER BY count DESC, fingerprint LIMIT ?`,
    )
    .all(limit) as Row[];
  const first = db.prepare('SELECT error, kind, rule FROM records WHERE seq = ?');
  const samples = db.prepare("SELECT key FROM records WHERE status = 'failed' AND fingerprint IS ? ORDER BY seq LIMIT ?").pluck();
  const templates = db.prepare(`SELECT template, COUNT(*) AS count, MIN(seq) AS firstSeq FROM records
    WHERE status = 'failed' AND fingerprint IS ? GROUP BY template ORDER BY count DESC, firstSeq LIMIT ?`);
  const templateSamples = db
    .prepare("SELECT key FROM records WHERE status = 'failed' AND fingerprint IS ? AND template IS ? ORDER BY seq LIMIT ?")
    .pluck();
  return groups.map((group) =>
    toErrorGroup(
      group,
      first.get(group.firstSeq) as Row | undefined,
      samples.all(group.fingerprint, sampleKeys) as string[],
      (templates.all(group.fingerprint, TEMPLATES_PER_GROUP) as Row[]).map((t) => ({
        template: typeof t.template === 'string' ? t.template : maskedMessageOf(first.get(t.firstSeq) as Row | undefined),
        count: Number(t.count),
        sampleKeys: templateSamples.all(group.fingerprint, t.template, sampleKeys) as string[],
      })),
    ),
  );
}

/** The runs, newest first. */
export function readRuns(db: Database.Database, limit: number): RunRecord[] {
  const rows = db.prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as Row[];
  return rows.map(toRunRecord);
}

/** The stored rows that match `filter`, in source order. */
export function* readRows(db: Database.Database, filter: RowFilter): Iterable<RecordRow> {
  const params: unknown[] = [...filter.statuses];
  const where = [
    `status IN (${filter.statuses.map(() => '?').join(', ')})`,
    ...filterConditions(filter, (value) => {
      params.push(value);
      return '?';
    }),
  ];
  const statement = db.prepare(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY seq`);
  for (const row of statement.iterate(...params) as Iterable<Row>) yield toRecordRow(row);
}
