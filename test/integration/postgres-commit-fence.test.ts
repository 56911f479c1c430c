/**
 * A PostgreSQL ledger commit is one statement that fences itself (sql/outcomes.ts's writeCommit):
 * one round trip, and still nothing written by a holder whose lease was taken, even when the take
 * is under way while the commit is sent. Each test has a schema of its own.
 */
import { afterEach, expect, it, vi } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { CommitBatch, Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { loadPg } from '../../src/ledger/postgres/load-pg.js';
import { describePg, freshSchema, PG_URL, pgPool } from '../helpers/pg-schema.js';

// Renewed far less often than the test runs: a renewal inside a counted commit would add a statement.
const LEASE = resolveLeaseOptions({ expireMs: 600_000, renewEveryMs: 200_000 });
const FINGERPRINT = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };
const opened: Ledger[] = [];
const pool = pgPool();

afterEach(async () => {
  for (const ledger of opened.splice(0)) await ledger.close().catch(() => {});
});

async function begun(runId: string, pgSchema: string): Promise<Ledger> {
  const { ledger } = openLedger(PG_URL, { job: 'fence', pgSchema, lease: LEASE });
  opened.push(ledger);
  await ledger.begin({ runId, job: 'fence', fingerprint: FINGERPRINT, acceptDrift: false, options: {} });
  return ledger;
}

function batch(runId: string, first: number, last: number): CommitBatch {
  const row = {
    seq: last + 1,
    key: `key-${last + 1}`,
    status: 'failed' as const,
    kind: 'fatal' as const,
    attempts: 1,
    runId,
    updatedAt: '2026-01-01T00:00:00.000Z',
  };
  return { runId, succeeded: [{ first, last }], rows: [row], watermark: { seq: last + 2 }, seen: last + 2, exhausted: false };
}

describePg('PostgreSQL ledger commit fence', () => {
  it('sends a commit as one statement (no BEGIN, fence or COMMIT of its own)', async () => {
    const ledger = await begun('run-1', freshSchema('bg_fence'));
    await ledger.commit(batch('run-1', 0, 98)); // the connection is made
    const spy = vi.spyOn(loadPg('test').pg.Client.prototype, 'query');
    try {
      await ledger.commit(batch('run-1', 100, 198));
      expect(spy.mock.calls.length).toBe(1);
    } finally {
      spy.mockRestore();
    }
    expect(await ledger.counts()).toMatchObject({ succeeded: 198, failed: 2 });
  });

  it('waits for a take under way, then writes nothing and says the lease was lost', async () => {
    const s = freshSchema('bg_fence');
    const holder = await begun('run-1', s);
    await holder.commit(batch('run-1', 0, 98));
    // Raw SQL on purpose: a taker's update of the lease row, left uncommitted while the holder commits.
    const taker = await pool.connect();
    try {
      await taker.query('BEGIN');
      await taker.query(`UPDATE "${s}".lease SET token = token + 1, run_id = 'run-2', owner = 'taker'`);
      let settled = false;
      const commit = holder.commit(batch('run-1', 100, 198)).finally(() => (settled = true));
      commit.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(settled).toBe(false);
      await taker.query('COMMIT');
      const error = await commit.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(LedgerError);
      expect((error as LedgerError).code).toBe('LEDGER_LEASE_LOST');
    } finally {
      taker.release();
    }
    const stored = await pool.query(
      `SELECT (SELECT MAX(last_seq) FROM "${s}".succeeded_ranges) AS last, (SELECT COUNT(*) FROM "${s}".records)::int AS rows`,
    );
    expect(stored.rows[0]).toEqual({ last: '98', rows: 1 });
  });

  it('sends the commit unnamed once the server does not keep its named statement (a pooler in transaction mode)', async () => {
    const ledger = await begun('run-1', freshSchema('bg_fence'));
    await ledger.commit(batch('run-1', 0, 98)); // prepared on the connection
    // The server session forgets what this connection prepared, as another session behind a pooler would not have it.
    const client = loadPg('test').pg.Client.prototype;
    const original = client.query;
    const spy = vi.spyOn(client, 'query').mockImplementation(function (this: typeof client, ...args: unknown[]) {
      const config = args[0] as { name?: string } | undefined;
      if (config?.name === undefined) return (original as (...a: unknown[]) => unknown).apply(this, args) as never;
      return (original as (...a: unknown[]) => Promise<unknown>)
        .call(this, 'DEALLOCATE ALL')
        .then(() => (original as (...a: unknown[]) => unknown).apply(this, args)) as never;
    });
    try {
      await ledger.commit(batch('run-1', 100, 198));
    } finally {
      spy.mockRestore();
    }
    await ledger.commit(batch('run-1', 200, 298));
    expect(await ledger.counts()).toMatchObject({ succeeded: 297, failed: 3 });
  });
});
