/**
 * The PostgreSQL ledger on the real server, through the Ledger interface and through the engine.
 * Each test works in a schema of its own (dropped after), so this file runs beside any other.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { ConfigError, LedgerError } from '../../src/errors.js';
import { runJob } from '../../src/engine/run-job.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { CommitBatch, Ledger, RecordRow, RunStart } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { loadPg } from '../../src/ledger/postgres/load-pg.js';
import { PG_SCHEMA_VERSION } from '../../src/ledger/postgres/sql/migrate.js';
import { itemsJob } from '../helpers/jobs.js';
import { describePg, freshSchema, PG_URL, pgPool } from '../helpers/pg-schema.js';

const LEASE = resolveLeaseOptions({ expireMs: 1500, renewEveryMs: 250 });
const FINGERPRINT = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };
/** The test server's URL with a password added (trust auth ignores it): it must never be shown. */
const SECRET = 'hunter2-secret';
const URL_WITH_PASSWORD = PG_URL.replace('://postgres@', `://postgres:${SECRET}@`);

const opened: Ledger[] = [];
const pool = pgPool();

/** A schema for one test (dropped when the file's tests end). */
const schema = (): string => freshSchema('bg_ledger');

function open(pgSchema: string, options: { job?: string; lease?: typeof LEASE } = {}): Ledger {
  const { ledger } = openLedger(URL_WITH_PASSWORD, { job: options.job ?? 'pg-test', pgSchema, lease: options.lease ?? LEASE });
  opened.push(ledger);
  return ledger;
}

afterEach(async () => {
  for (const ledger of opened.splice(0)) await ledger.close().catch(() => {});
});

function start(runId: string, overrides: Partial<RunStart> = {}): RunStart {
  return { runId, job: 'pg-test', fingerprint: FINGERPRINT, acceptDrift: false, options: { concurrency: 4 }, ...overrides };
}

function batch(runId: string, overrides: Partial<CommitBatch> = {}): CommitBatch {
  return { runId, succeeded: [], rows: [], watermark: undefined, seen: 0, exhausted: false, ...overrides };
}

function failed(seq: number, runId: string, overrides: Partial<RecordRow> = {}): RecordRow {
  return {
    seq,
    key: `key-${seq}`,
    status: 'failed',
    kind: 'exhausted',
    attempts: 3,
    error: { name: 'Error', message: `failure of ${seq}` },
    fingerprint: 'fp-a',
    template: 'failure of <n>',
    rule: 'default',
    runId,
    line: seq + 1,
    offset: seq * 100,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** Whether a run's finishing statement (sql/finish.ts) on `s` is waiting for a lock (raw SQL on purpose: what the server is doing). */
async function finishWaitsIn(s: string): Promise<boolean> {
  const { rows } = await pool.query(
    `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%WITH released AS%' AND strpos(query, $1) > 0) AS waits`,
    [`"${s}".lease`],
  );
  return (rows[0] as { waits: boolean }).waits;
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describePg('PostgreSQL ledger', () => {
  it('records, counts and resumes across handles, and never shows the password', async () => {
    const s = schema();
    const first = open(s);
    const keys = await first.keys();
    keys.add('key-3', 3, 4);
    expect(first.location).toBe(`${PG_URL} (schema ${s})`);
    expect(first.location).not.toContain(SECRET);
    await first.begin(start('run-1'));
    await first.commit(
      batch('run-1', {
        succeeded: [{ first: 0, last: 9 }],
        rows: [failed(10, 'run-1')],
        watermark: { seq: 11 },
        seen: 11,
      }),
    );
    await first.commit(batch('run-1', { succeeded: [{ first: 11, last: 19 }], watermark: { seq: 20 }, seen: 20, exhausted: true }));
    expect(await first.counts()).toEqual({ total: 20, succeeded: 19, failed: 1, skipped: 0, pending: 0, sourceExhausted: true });
    await first.finish('run-1', 'completed', { done: true });
    await first.close();

    const second = open(s);
    const resume = await second.begin(start('run-2'));
    expect(resume).toMatchObject({ watermark: { seq: 20 }, alreadyDone: 20, crashedRunId: undefined });
    expect(await collect(second.succeededRanges())).toEqual([
      { first: 0, last: 9 },
      { first: 11, last: 19 },
    ]);
    expect((await second.keys()).find('key-3')).toEqual({ seq: 3, line: 4 });
    const rows = await collect(second.rows({ statuses: ['failed'] }));
    expect(rows).toEqual([expect.objectContaining({ seq: 10, key: 'key-10', error: { name: 'Error', message: 'failure of 10' } })]);
    const [group] = await second.topErrors(5, 3);
    expect(group).toMatchObject({
      fingerprint: 'fp-a',
      count: 1,
      sampleKeys: ['key-10'],
      templates: [{ template: 'failure of <n>', count: 1 }],
    });
    expect((await second.runs(5)).map((run) => [run.runId, run.status])).toEqual([
      ['run-2', 'running'],
      ['run-1', 'completed'],
    ]);
    expect((await second.timeline('run-1')).map((point) => [point.done, point.failed])).toEqual([
      [11, 1],
      [9, 0],
    ]);
  });

  it('pages through more rows than one page holds, in source order', async () => {
    const ledger = open(schema());
    await ledger.begin(start('run-1'));
    const many = Array.from({ length: 2500 }, (_, i) => failed(i * 2, 'run-1', { fingerprint: i % 2 === 0 ? 'even' : 'odd' }));
    await ledger.commit(batch('run-1', { rows: many, seen: 5000 }));
    const all = await collect(ledger.rows({ statuses: ['failed'] }));
    expect(all.map((row) => row.seq)).toEqual(many.map((row) => row.seq));
    expect((await collect(ledger.rows({ statuses: ['failed'], fingerprint: 'odd' }))).length).toBe(1250);
  });

  it('keeps jobs apart in one schema', async () => {
    const s = schema();
    const a = open(s, { job: 'job-a' });
    const b = open(s, { job: 'job-b' });
    await a.begin(start('run-a', { job: 'job-a' }));
    await b.begin(start('run-b', { job: 'job-b' }));
    await a.commit(batch('run-a', { succeeded: [{ first: 0, last: 4 }], seen: 5 }));
    expect((await a.counts()).succeeded).toBe(5);
    expect((await b.counts()).succeeded).toBe(0);
    expect((await b.runs(5)).map((run) => run.runId)).toEqual(['run-b']);
  });

  it('refuses a second run while the lease is renewed, and fences a holder whose lease was taken', async () => {
    const s = schema();
    const holder = open(s);
    await holder.begin(start('run-1'));
    const error = await rejection(open(s).begin(start('run-2')));
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as LedgerError).code).toBe('LEDGER_LOCKED');
    expect((error as Error).message).not.toContain(SECRET);

    const taker = open(s);
    const resume = await taker.begin(start('run-3', { takeOver: true }));
    expect(resume.crashedRunId).toBe('run-1');
    const lost = await rejection(holder.commit(batch('run-1', { succeeded: [{ first: 0, last: 99 }], seen: 100 })));
    expect((lost as LedgerError).code).toBe('LEDGER_LEASE_LOST');
    expect(await rejection((async () => holder.noteInFlight({ started: [1], ahead: [], group: false }))())).toBeInstanceOf(LedgerError);
    expect((await taker.counts()).succeeded).toBe(0);
    expect((await taker.holder())?.runId).toBe('run-3');
  });

  it('a holder whose finish waits for a take under way: its lease was lost, and nothing of its end is written', async () => {
    const s = schema();
    const holder = open(s);
    await holder.begin(start('run-1'));
    await holder.noteInFlight({ started: [1], ahead: [], group: false });
    // Raw SQL on purpose: a taker's update of the lease row, left uncommitted while the holder finishes.
    const taker = await pool.connect();
    try {
      await taker.query('BEGIN');
      await taker.query(`UPDATE "${s}".lease SET token = token + 1, run_id = 'run-2', owner = 'taker'`);
      let settled = false;
      const finishing = rejection(holder.finish('run-1', 'completed', {})).finally(() => (settled = true));
      // Until the server says the finishing statement waits for the taker's lock (not a time: under
      // load it may not have been sent yet); a finish that did not wait has settled by then.
      while (!settled && !(await finishWaitsIn(s))) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(settled).toBe(false);
      await taker.query('COMMIT');
      const error = await finishing;
      expect((error as LedgerError).code).toBe('LEDGER_LEASE_LOST');
      expect((error as Error).message).toContain('this run (run-1, token 1) lost its lease');
    } finally {
      taker.release();
    }
    const { rows } = await pool.query(
      `SELECT (SELECT status FROM "${s}".runs WHERE run_id = 'run-1') AS status, (SELECT COUNT(*)::int FROM "${s}".meta WHERE key = 'in_flight') AS notes`,
    );
    expect(rows[0]).toEqual({ status: 'running', notes: 1 });
  });

  it("begins a run in one transaction that reads the job's meta once, and ends it in one statement", async () => {
    const s = schema();
    // Renewed far less often than the test runs: this file's renewal every 250 ms, due while a slow
    // machine finishes, would add a statement to those counted.
    const ledger = open(s, { lease: resolveLeaseOptions({ expireMs: 600_000, renewEveryMs: 200_000 }) });
    await ledger.counts(); // the ledger is created
    const spy = vi.spyOn(loadPg('test').pg.Client.prototype, 'query');
    const sent = (): string[] =>
      spy.mock.calls.map(([config]) =>
        (typeof config === 'string' ? config : (config as { text: string }).text).trim().split(/\s+/).slice(0, 3).join(' '),
      );
    try {
      await ledger.begin(start('run-1'));
      expect(sent()).toEqual([
        'BEGIN',
        'SELECT token, run_id,',
        `UPDATE "${s}".lease SET`,
        "SELECT pg_try_advisory_lock(hashtextextended('batchguard run",
        'SELECT key, value',
        `INSERT INTO "${s}".runs`,
        `INSERT INTO "${s}".meta`,
        'SELECT first_seq, last_seq',
        'SELECT seq FROM',
        'SELECT (SELECT COALESCE(SUM(last_seq',
        'SELECT seq, group_size,',
        'COMMIT',
      ]);
      spy.mockClear();
      await ledger.finish('run-1', 'completed', {});
      expect(sent()).toEqual(['WITH released AS', "SELECT pg_advisory_unlock(hashtextextended('batchguard run"]);
    } finally {
      spy.mockRestore();
    }
  });

  it("a finish whose reply is lost after it committed (the session ended): the run's end is recorded, no lease was lost", async () => {
    const s = schema();
    const holder = open(s);
    await holder.begin(start('run-1'));
    // The PostgreSQL ledger behind openLedger's deferred one (its code is loaded at the first call).
    type Inner = { db: { query: (statement: unknown, values?: unknown[]) => Promise<unknown> } };
    const inner = await (holder as unknown as { ledger(): Promise<Inner> }).ledger();
    const query = inner.db.query;
    // The statement commits, then its connection breaks before the reply arrives.
    inner.db.query = async (statement, values) => {
      const result = await query(statement, values);
      if (typeof statement === 'string' && statement.includes('WITH released AS')) throw new Error('Connection terminated unexpectedly');
      return result;
    };
    await holder.finish('run-1', 'completed', { succeeded: 0 });
    inner.db.query = query;
    expect(await holder.holder()).toBeUndefined();
    expect((await holder.runs(1))[0]).toMatchObject({ runId: 'run-1', status: 'completed' });
  });

  it("a finish whose session ends before it committed: the ledger's error, and the lease is still the run's", async () => {
    const s = schema();
    const holder = open(s);
    await holder.begin(start('run-1'));
    type Inner = { db: { query: (statement: unknown, values?: unknown[]) => Promise<unknown> } };
    const inner = await (holder as unknown as { ledger(): Promise<Inner> }).ledger();
    const query = inner.db.query;
    inner.db.query = async (statement, values) => {
      if (typeof statement === 'string' && statement.includes('WITH released AS')) throw new Error('Connection terminated unexpectedly');
      return query(statement, values);
    };
    const error = await rejection(holder.finish('run-1', 'completed', {}));
    inner.db.query = query;
    expect((error as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((error as Error).message).toContain('recording the end of the run failed: Connection terminated unexpectedly');
    expect((await holder.holder())?.runId).toBe('run-1');
  });

  it('a finished run leaves the lease released, its end recorded and no crash note', async () => {
    const s = schema();
    const holder = open(s);
    await holder.begin(start('run-1'));
    await holder.noteInFlight({ started: [1], ahead: [], group: false });
    await holder.finish('run-1', 'completed', { succeeded: 0 });
    expect(await holder.holder()).toBeUndefined();
    expect((await holder.runs(1))[0]).toMatchObject({ runId: 'run-1', status: 'completed' });
    expect((await holder.inspect()).crashes.suspects.size).toBe(0);
    // Raw SQL on purpose: the note itself, which no Ledger call shows.
    expect((await pool.query(`SELECT COUNT(*)::int AS n FROM "${s}".meta WHERE key = 'in_flight'`)).rows[0]).toEqual({ n: 0 });
    const next = open(s);
    expect((await next.begin(start('run-2'))).crashedRunId).toBeUndefined();
  });

  it('takes a dead run over after its lease expired, with its crash note as evidence', async () => {
    const s = schema();
    const short = resolveLeaseOptions({ expireMs: 400, renewEveryMs: 100 });
    const dead = open(s, { lease: short });
    await dead.begin(start('run-1'));
    await dead.noteInFlight({ started: [3, 4], ahead: [{ first: 5, last: 6 }], group: false });
    await dead.commit(batch('run-1', { succeeded: [{ first: 0, last: 3 }], watermark: { seq: 4 }, seen: 5 }));
    await dead.close(); // no finish: the run died
    const next = open(s);
    const resume = await next.begin(start('run-2'));
    expect(resume.crashedRunId).toBe('run-1');
    expect([...resume.crashes.suspects.keys()].sort()).toEqual([4, 5, 6]);
    expect((await next.runs(5)).find((run) => run.runId === 'run-1')?.status).toBe('crashed');
    await next.commit(batch('run-2', { succeeded: [{ first: 4, last: 6 }], watermark: { seq: 7 }, seen: 7 }));
    expect((await next.inspect()).crashes.suspects.size).toBe(0);
  });

  it('creates the schema once when several ledgers open it at the same moment', async () => {
    const s = schema();
    const ledgers = Array.from({ length: 6 }, (_, i) => open(s, { job: `job-${i % 2}` }));
    const counts = await Promise.all(ledgers.map((ledger) => ledger.counts()));
    expect(counts.every((count) => count.total === 0)).toBe(true);
    // Raw SQL on purpose: the backend's own table of the jobs sharing one schema.
    const jobs = (await pool.query(`SELECT name FROM "${s}".jobs ORDER BY name`)).rows;
    expect(jobs).toEqual([{ name: 'job-0' }, { name: 'job-1' }]);
  });

  it('refuses a schema written by a newer batchguard, naming both versions', async () => {
    const s = schema();
    await open(s).counts();
    // Raw SQL on purpose: the schema is made to look written by a newer batchguard.
    await pool.query(`UPDATE "${s}".schema_version SET version = ${PG_SCHEMA_VERSION + 1}`);
    const error = await rejection(open(s).counts());
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toBe(
      `the ledger ${PG_URL} (schema ${s}) has schema ${PG_SCHEMA_VERSION + 1}, written by a newer batchguard; this batchguard reads schema ${PG_SCHEMA_VERSION}: upgrade batchguard to use this ledger (nothing was changed in it), or give another schema with --pg-schema`,
    );
  });

  it('says in one line, without the password, when the server cannot be reached', async () => {
    const { ledger } = openLedger(`postgres://app:${SECRET}@127.0.0.1:1/nowhere`, { job: 'pg-test', lease: LEASE });
    const error = await rejection(ledger.counts());
    await ledger.close();
    expect(error).toBeInstanceOf(LedgerError);
    expect((error as Error).message).toMatch(
      /^PostgreSQL ledger postgres:\/\/app@127\.0\.0\.1:1\/nowhere \(schema batchguard\): opening the ledger failed: connect ECONNREFUSED 127\.0\.0\.1:1 \(is PostgreSQL running there, and the address right\?\); nothing was written$/,
    );
  });

  it('refuses a schema name that would need quoting', () => {
    expect(() => openLedger(PG_URL, { job: 'x', pgSchema: 'my-schema' })).toThrow(ConfigError);
  });

  it('runs a job through the engine, resumes it, and re-runs its failures', async () => {
    const pgSchema = schema();
    let failing = true;
    const job = itemsJob('pg-engine', 3000, {
      retry: { maxAttempts: 1 },
      maxFailureRate: 1,
      handler: async (item) => {
        if (failing && item.id % 100 === 7) throw new Error(`no ${item.id}`);
        return 'ok';
      },
    });
    const first = await runJob(job, { ledger: URL_WITH_PASSWORD, pgSchema, maxRecords: 1000 });
    expect(first.ledger).not.toContain(SECRET);
    expect(first.status).toBe('stopped');
    const second = await runJob(job, { ledger: URL_WITH_PASSWORD, pgSchema });
    expect(second).toMatchObject({ status: 'completed', total: 3000, succeeded: 2970, failed: 30, pending: 0 });
    expect(JSON.stringify(second)).not.toContain(SECRET);
    failing = false;
    const rerun = await runJob(job, { ledger: URL_WITH_PASSWORD, pgSchema, rerun: {} });
    expect(rerun).toMatchObject({ total: 3000, succeeded: 3000, failed: 0 });
  });
});
