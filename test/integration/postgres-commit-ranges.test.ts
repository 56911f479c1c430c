/**
 * A PostgreSQL ledger commit with many success ranges (a handler that fails or retries some
 * records splits the successes into many): every range and row is stored, and the commit costs
 * the same number of statements whatever the number of ranges. Each test has a schema of its own.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { CommitBatch, Ledger, RecordRow, SeqRange } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { loadPg } from '../../src/ledger/postgres/load-pg.js';
import { outcomesSql } from '../../src/ledger/postgres/sql/outcomes.js';
import { commitValues } from '../../src/ledger/postgres/write-commit.js';
import { describePg, freshSchema, PG_URL, pgPool } from '../helpers/pg-schema.js';

// Renewed far less often than the test runs: a renewal inside a counted commit would add a statement.
const LEASE = resolveLeaseOptions({ expireMs: 600_000, renewEveryMs: 200_000 });
const FINGERPRINT = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };
const opened: Ledger[] = [];
const pool = pgPool(); // drops this file's schemas when its tests end

afterEach(async () => {
  for (const ledger of opened.splice(0)) await ledger.close().catch(() => {});
});

async function begun(runId: string, pgSchema = freshSchema('bg_ranges')): Promise<Ledger> {
  const { ledger } = openLedger(PG_URL, { job: 'ranges', pgSchema, lease: LEASE });
  opened.push(ledger);
  await ledger.begin({ runId, job: 'ranges', fingerprint: FINGERPRINT, acceptDrift: false, options: {} });
  return ledger;
}

function failed(seq: number, runId: string): RecordRow {
  const error = { name: 'Error', message: `failure of ${seq}` };
  return { seq, key: `key-${seq}`, status: 'failed', kind: 'fatal', attempts: 1, error, runId, updatedAt: '2026-01-01T00:00:00.000Z' };
}

/**
 * Records `from` … `to`: every `every`th one failed (a row), the others first-attempt successes,
 * as the checkpointer hands them over: ranges between the failures.
 */
function split(runId: string, from: number, to: number, every: number): CommitBatch {
  const succeeded: SeqRange[] = [];
  const rows: RecordRow[] = [];
  let first = from;
  for (let seq = from; seq <= to; seq++) {
    if ((seq + 1) % every !== 0) continue;
    if (seq > first) succeeded.push({ first, last: seq - 1 });
    rows.push(failed(seq, runId));
    first = seq + 1;
  }
  if (first <= to) succeeded.push({ first, last: to });
  return { runId, succeeded, rows, watermark: { seq: to + 1 }, seen: to + 1, exhausted: false };
}

/** Successes only, the ranges given, as the checkpointer hands them over. */
function successes(runId: string, succeeded: SeqRange[], seen: number): CommitBatch {
  return { runId, succeeded, rows: [], watermark: { seq: seen }, seen, exhausted: false };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The statements sent to the server while `work` runs, counted where `pg` sends them. */
async function statements(work: () => Promise<void>): Promise<number> {
  const spy = vi.spyOn(loadPg('test').pg.Client.prototype, 'query');
  try {
    await work();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

describePg('PostgreSQL ledger commits with many ranges', () => {
  it('stores every range and row of a commit, and extends the last range in the next commit', async () => {
    const ledger = await begun('run-1');
    const first = split('run-1', 0, 999, 17); // 59 ranges, 58 rows
    expect(first.succeeded.length).toBe(59);
    await ledger.commit(first);
    const second = split('run-1', 1000, 1999, 17);
    await ledger.commit(second);

    // The first range of the second commit continues the last one of the first: one stored range.
    const joined = { first: first.succeeded.at(-1)?.first, last: second.succeeded[0]?.last };
    const expected = [...first.succeeded.slice(0, -1), joined, ...second.succeeded.slice(1)];
    expect(await collect(ledger.succeededRanges())).toEqual(expected);
    const rows = await collect(ledger.rows({ statuses: ['failed'] }));
    expect(rows.map((row) => row.seq)).toEqual([...first.rows, ...second.rows].map((row) => row.seq));
    expect(await ledger.counts()).toMatchObject({ total: 2000, succeeded: 2000 - rows.length, failed: rows.length, pending: 0 });
  });

  it('sends as many statements for a commit of 59 ranges as for a commit of one', async () => {
    const ledger = await begun('run-1');
    await ledger.commit(split('run-1', 0, 99, 1000)); // the connection and the lease's first renewal are made
    const one = await statements(() => ledger.commit(split('run-1', 100, 199, 1000)));
    const many = await statements(() => ledger.commit(split('run-1', 200, 1199, 17)));
    expect(many).toBe(one);
  });

  it('stores a batch written again once, and fills the gaps between stored ranges of another run', async () => {
    const s = freshSchema('bg_ranges');
    const dead = await begun('run-1', s);
    const batch = { ...split('run-1', 0, 499, 10), rows: [] }; // every 10th record left pending
    await dead.commit(batch);
    await dead.commit(batch); // overlaps every stored range: written range by range, nothing twice
    expect(await dead.counts()).toMatchObject({ succeeded: 450, failed: 0, pending: 50 });
    await dead.close();

    const next = await begun('run-2', s);
    const gaps = { ...batch, runId: 'run-2', succeeded: Array.from({ length: 50 }, (_, i) => ({ first: i * 10 + 9, last: i * 10 + 9 })) };
    await next.commit(gaps);
    expect(await next.counts()).toMatchObject({ total: 500, succeeded: 500, failed: 0 });
    const ranges = await collect(next.succeededRanges());
    expect(ranges.reduce((sum, range) => sum + range.last - range.first + 1, 0)).toBe(500);
    expect(ranges.length).toBe(100); // run-1's 50 ranges and run-2's 50 single records: other runs' ranges are not merged
  });

  it('reads only the stored ranges a commit touches, with the plan made while the table was small', async () => {
    // The server plans a named statement once for all its later runs after a few (a generic plan),
    // while the job's ranges are still few: forced here from the first run, for the test to be exact.
    // A record retried after its neighbours were stored extends the range before it.
    const s = freshSchema('bg_ranges');
    const ledger = await begun('run-1', s);
    await ledger.commit(split('run-1', 0, 99, 10));
    const client = await pool.connect();
    try {
      await client.query('SET plan_cache_mode = force_generic_plan');
      const { rows } = await client.query(`SELECT job_id, token FROM "${s}".lease`);
      const { job_id: jobId, token } = rows[0] as { job_id: number; token: string };
      const write = (batch: CommitBatch) =>
        client.query({
          name: 'commit',
          text: outcomesSql(s).writeCommit,
          values: commitValues(jobId, batch, { keys: undefined, suspects: false }, Number(token))(batch.succeeded),
        });
      await write(split('run-1', 100, 199, 10));
      // 20,000 more ranges of the run, each one after a record that is still pending.
      await client.query(
        `INSERT INTO "${s}".succeeded_ranges SELECT $1, g * 10, g * 10 + 8, 'run-1' FROM generate_series(100, 20099) AS g`,
        [jobId],
      );

      await client.query('BEGIN');
      await write(successes('run-1', [{ first: 5009, last: 5009 }], 201000));
      const read = await client.query(
        `SELECT seq_tup_read + COALESCE(idx_tup_fetch, 0) AS n FROM pg_stat_xact_user_tables WHERE relid = '"${s}".succeeded_ranges'::regclass`,
      );
      await client.query('COMMIT');
      expect(Number((read.rows[0] as { n: string }).n)).toBeLessThan(20);
    } finally {
      // Not back to the pool: the session keeps plan_cache_mode and the statement named 'commit'.
      client.release(true);
    }
    const ranges = await collect(ledger.succeededRanges());
    expect(ranges.filter((range) => range.first >= 4990 && range.last <= 5030)).toEqual([
      { first: 4990, last: 4998 },
      { first: 5000, last: 5009 },
      { first: 5010, last: 5018 },
      { first: 5020, last: 5028 },
    ]);
  });
});
