/**
 * What the SQLite ledger reads for status, reports and re-runs: counts, failure groups, runs and
 * rows. Plain queries over the ledger's tables, outside any run.
 */
import type Database from 'better-sqlite3';
import { maskMessage } from '../../policy/fingerprint.js';
import type { SerializedError } from '../../policy/serialize-error.js';
import type { ErrorGroup, LedgerCounts, RecordRow, RowFilter, RunRecord } from '../ledger.js';
import { parseJson, toRecordRow } from './row-codec.js';

type Row = Record<string, unknown>;

/** The optional narrowing fields of a RowFilter and their columns. */
const FILTER_COLUMNS = [
  ['fingerprint', 'fingerprint'],
  ['kind', 'kind'],
  ['runId', 'run_id'],
  ['key', 'key'],
] as const;

/** The job's counts; `meta` reads the ledger's meta table. */
export function readCounts(db: Database.Database, meta: (key: string) => string | undefined): LedgerCounts {
  const inRanges = Number(db.prepare('SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM succeeded_ranges').pluck().get());
  const byStatus = db.prepare('SELECT status, COUNT(*) AS n FROM records GROUP BY status').all() as { status: string; n: number }[];
  const count = (status: string): number => byStatus.find((r) => r.status === status)?.n ?? 0;
  const succeeded = inRanges + count('succeeded');
  const failed = count('failed');
  const skipped = count('skipped');
  const finished = succeeded + failed + skipped;
  const total = Math.max(Number(meta('seen') ?? 0), finished);
  return { total, succeeded, failed, skipped, pending: total - finished, sourceExhausted: meta('exhausted') === 'true' };
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

/** The runs, newest first. */
export function readRuns(db: Database.Database, limit: number): RunRecord[] {
  const rows = db.prepare('SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?').all(limit) as Row[];
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

/** The stored rows that match `filter`, in source order. */
export function* readRows(db: Database.Database, filter: RowFilter): Iterable<RecordRow> {
  const where = [`status IN (${filter.statuses.map(() => '?').join(', ')})`];
  const params: unknown[] = [...filter.statuses];
  for (const [field, column] of FILTER_COLUMNS) {
    const value = filter[field];
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    params.push(value);
  }
  const statement = db.prepare(`SELECT * FROM records WHERE ${where.join(' AND ')} ORDER BY seq`);
  for (const row of statement.iterate(...params) as Iterable<Row>) yield toRecordRow(row);
}

/** Templates listed under each of the summary's top error groups. */
const TEMPLATES_PER_GROUP = 3;

function firstMessage(row: Row | undefined): string {
  const error = parseJson<{ message?: unknown }>(typeof row?.error === 'string' ? row.error : undefined);
  return typeof error?.message === 'string' ? error.message : '';
}
