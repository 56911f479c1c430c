/**
 * The coordination of workers in PostgreSQL, against the real database: planning once, leasing
 * with SKIP LOCKED, expiry and takeover, fencing, the shared breaker and the run's end.
 * A lease is made to expire by moving its expiry into the past, not by waiting for it.
 */
import { expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import type { ChunkPlan } from '../../src/distributed/chunk-plan.js';
import { createWorkerTables } from '../../src/distributed/sql/create-worker-tables.js';
import { fencedWrite, markChunkDone } from '../../src/distributed/sql/fenced-write.js';
import { joinRun } from '../../src/distributed/sql/join-run.js';
import { leaseChunk, type LeasedChunk } from '../../src/distributed/sql/lease-chunk.js';
import { renewLeases } from '../../src/distributed/sql/renew-leases.js';
import { abortRun, addRunCounts, completeRun, readRunState } from '../../src/distributed/sql/run-state.js';
import { claimProbe, closeSharedBreaker, openSharedBreaker } from '../../src/distributed/sql/shared-breaker.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';

const LEASE_MS = 30_000;

/** A plan of `chunks` chunks of 10 items each, at made-up offsets. */
function plan(chunks: number): ChunkPlan {
  return {
    total: chunks * 10,
    chunks: Array.from({ length: chunks }, (_, index) => ({
      index,
      from: { seq: index * 10, line: index * 10 + 1, offset: index * 100 },
      count: 10,
    })),
  };
}

describePg('workers coordinated in PostgreSQL', () => {
  const pool = pgPool();

  async function setUp(chunks: number): Promise<{ schema: string; runId: string }> {
    const schema = freshSchema('bg_workers');
    await createWorkerTables(pool, schema);
    const joined = await joinRun(pool, schema, {
      job: 'j',
      owner: 'planner',
      newRunId: 'run-1',
      plan: () => Promise.resolve(plan(chunks)),
    });
    return { schema, runId: joined.runId };
  }

  const expire = (schema: string, chunk: number): Promise<unknown> =>
    pool.query(`UPDATE "${schema}".chunks SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE chunk = $1`, [chunk]);

  it('creates its tables once when many workers start together', async () => {
    const schema = freshSchema('bg_workers');
    await Promise.all(Array.from({ length: 6 }, () => createWorkerTables(pool, schema)));
    const { rows } = await pool.query(`SELECT version FROM "${schema}".worker_schema`);
    expect(rows).toEqual([{ version: 1 }]);
  });

  it('plans once however many workers join at the same moment; the others join that run', async () => {
    const schema = freshSchema('bg_workers');
    await createWorkerTables(pool, schema);
    let plans = 0;
    const slowPlan = async (): Promise<ChunkPlan> => {
      plans++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return plan(5);
    };
    const joined = await Promise.all(
      Array.from({ length: 6 }, (_, i) => joinRun(pool, schema, { job: 'j', owner: `w${i}`, newRunId: `run-${i}`, plan: slowPlan })),
    );
    expect(plans).toBe(1);
    expect(new Set(joined.map((j) => j.runId)).size).toBe(1);
    expect(joined.filter((j) => j.planned)).toHaveLength(1);
    expect(joined.every((j) => j.total === 50 && j.chunks === 5)).toBe(true);
  });

  it('leaves nothing behind when the planner fails; the next worker plans', async () => {
    const schema = freshSchema('bg_workers');
    await createWorkerTables(pool, schema);
    const failing = joinRun(pool, schema, { job: 'j', owner: 'a', newRunId: 'run-a', plan: () => Promise.reject(new Error('disk gone')) });
    await expect(failing).rejects.toThrow('disk gone');
    const joined = await joinRun(pool, schema, { job: 'j', owner: 'b', newRunId: 'run-b', plan: () => Promise.resolve(plan(2)) });
    expect(joined).toEqual({ runId: 'run-b', total: 20, chunks: 2, planned: true });
    const { rows } = await pool.query(`SELECT run_id FROM "${schema}".worker_runs`);
    expect(rows).toEqual([{ run_id: 'run-b' }]);
  });

  it('gives every chunk to exactly one of many workers leasing at once', async () => {
    const { schema, runId } = await setUp(40);
    const taken: { owner: string; lease: LeasedChunk }[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (;;) {
          const lease = await leaseChunk(pool, schema, runId, `w${w}`, LEASE_MS);
          if (lease === undefined) return;
          taken.push({ owner: `w${w}`, lease });
        }
      }),
    );
    expect(taken.map((t) => t.lease.chunk.index).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(taken.every((t) => t.lease.token === 1 && !t.lease.takenOver)).toBe(true);
    expect(new Set(taken.map((t) => t.owner)).size).toBeGreaterThan(1);
    expect(taken.find((t) => t.lease.chunk.index === 3)?.lease.chunk).toEqual({
      index: 3,
      from: { seq: 30, line: 31, offset: 300 },
      count: 10,
    });
  });

  it('hands an expired chunk to another worker; the old holder can neither renew nor write', async () => {
    const { schema, runId } = await setUp(1);
    const first = await leaseChunk(pool, schema, runId, 'a', LEASE_MS);
    expect(first?.token).toBe(1);
    expect(await leaseChunk(pool, schema, runId, 'b', LEASE_MS)).toBeUndefined();
    const held = [{ chunk: 0, token: 1 }];
    expect(await renewLeases(pool, schema, runId, 'a', held, LEASE_MS)).toEqual(new Set([0]));

    await expire(schema, 0);
    // Expired and not yet taken: still refused, so the holder cannot race the takeover it cannot see.
    expect(await renewLeases(pool, schema, runId, 'a', held, LEASE_MS)).toEqual(new Set());
    const taken = await leaseChunk(pool, schema, runId, 'b', LEASE_MS);
    expect(taken).toMatchObject({ token: 2, takenOver: true, chunk: { index: 0 } });

    let wrote = false;
    const stale = fencedWrite(pool, schema, runId, 'a', held, () => {
      wrote = true;
      return Promise.resolve();
    });
    await expect(stale).rejects.toThrow(
      new LedgerError(
        'LEDGER_LEASE_LOST',
        'this worker lost its lease on chunk 0 of run run-1: it was not renewed in time (the process was stopped or its connection lost), ' +
          'so another worker takes the chunk over. Nothing more was written for it by this worker',
      ),
    );
    expect(wrote).toBe(false);
    await fencedWrite(pool, schema, runId, 'b', [{ chunk: 0, token: 2 }], (client) =>
      addRunCounts(client, schema, runId, { succeeded: 10, failed: 0, skipped: 0 }),
    );
    expect((await readRunState(pool, schema, runId))?.succeeded).toBe(10);
  });

  it('keeps a chunk from being taken over while its holder is writing for it', async () => {
    const { schema, runId } = await setUp(1);
    await leaseChunk(pool, schema, runId, 'a', LEASE_MS);
    let expiring: Promise<unknown> | undefined;
    await fencedWrite(pool, schema, runId, 'a', [{ chunk: 0, token: 1 }], async (client) => {
      await addRunCounts(client, schema, runId, { succeeded: 3, failed: 1, skipped: 0 });
      // A takeover updates the chunk row: it must wait for this transaction, seen as a lock wait.
      expiring = expire(schema, 0);
      for (;;) {
        const { rows } = await pool.query<{ waiting: string }>(
          `SELECT count(*) AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%interval ''1 second'' WHERE chunk%'`,
        );
        if (rows[0]?.waiting === '1') break;
      }
    });
    await expiring;
    const taken = await leaseChunk(pool, schema, runId, 'b', LEASE_MS);
    expect(taken?.token).toBe(2);
    expect((await readRunState(pool, schema, runId))?.failed).toBe(1);
  });

  it('skips a chunk locked by a fenced write instead of waiting or taking it', async () => {
    const { schema, runId } = await setUp(2);
    await leaseChunk(pool, schema, runId, 'a', LEASE_MS);
    await fencedWrite(pool, schema, runId, 'a', [{ chunk: 0, token: 1 }], async () => {
      // Chunk 0 is share-locked by this transaction; force its expiry from outside the lock's reach
      // is impossible (the UPDATE would wait), so another worker asks and must get chunk 1.
      const other = await leaseChunk(pool, schema, runId, 'b', LEASE_MS);
      expect(other?.chunk.index).toBe(1);
    });
  });

  it('completes the run only when every chunk is done', async () => {
    const { schema, runId } = await setUp(2);
    const a = await leaseChunk(pool, schema, runId, 'a', LEASE_MS);
    const b = await leaseChunk(pool, schema, runId, 'b', LEASE_MS);
    if (a === undefined || b === undefined) throw new Error('two leases expected');
    await fencedWrite(pool, schema, runId, 'a', [{ chunk: 0, token: a.token }], (c) =>
      markChunkDone(c, schema, runId, { chunk: 0, token: a.token }),
    );
    expect(await completeRun(pool, schema, runId)).toBe(false);
    expect(await readRunState(pool, schema, runId)).toMatchObject({ status: 'running', chunksDone: 1, chunksLeased: 1, chunksOpen: 0 });
    await fencedWrite(pool, schema, runId, 'b', [{ chunk: 1, token: b.token }], (c) =>
      markChunkDone(c, schema, runId, { chunk: 1, token: b.token }),
    );
    expect(await completeRun(pool, schema, runId)).toBe(true);
    expect(await completeRun(pool, schema, runId)).toBe(false);
    expect((await readRunState(pool, schema, runId))?.status).toBe('completed');
    // The job's next run is a new one.
    const next = await joinRun(pool, schema, { job: 'j', owner: 'c', newRunId: 'run-2', plan: () => Promise.resolve(plan(1)) });
    expect(next.planned).toBe(true);
  });

  it('shares one breaker: opened once, one prober at a time, closed by the prober', async () => {
    const { schema, runId } = await setUp(1);
    expect(await openSharedBreaker(pool, schema, runId, 'ECONNREFUSED')).toBe(true);
    expect(await openSharedBreaker(pool, schema, runId, 'other')).toBe(false);
    expect(await readRunState(pool, schema, runId)).toMatchObject({ breaker: 'open', breakerReason: 'ECONNREFUSED' });
    expect(await claimProbe(pool, schema, runId, 'a', LEASE_MS)).toBe(true);
    expect(await claimProbe(pool, schema, runId, 'b', LEASE_MS)).toBe(false);
    expect(await claimProbe(pool, schema, runId, 'a', LEASE_MS)).toBe(true);
    expect(await closeSharedBreaker(pool, schema, runId, 'b')).toBe(false);
    expect((await readRunState(pool, schema, runId))?.probeOwner).toBe('a');
    // A prober that dies lets another take the probe once its probe lease ends.
    await pool.query(`UPDATE "${schema}".worker_runs SET probe_expires_at = clock_timestamp() - interval '1 second'`);
    expect(await claimProbe(pool, schema, runId, 'b', LEASE_MS)).toBe(true);
    expect(await closeSharedBreaker(pool, schema, runId, 'b')).toBe(true);
    expect(await readRunState(pool, schema, runId)).toMatchObject({ breaker: 'closed', breakerOpenMs: 0, probeOwner: undefined });
  });

  it('aborts for all with the first reason', async () => {
    const { schema, runId } = await setUp(1);
    expect(await abortRun(pool, schema, runId, 'breaker open for 600 s')).toBe(true);
    expect(await abortRun(pool, schema, runId, 'later')).toBe(false);
    expect(await readRunState(pool, schema, runId)).toMatchObject({ status: 'aborted', abortReason: 'breaker open for 600 s' });
    expect(await openSharedBreaker(pool, schema, runId, 'x')).toBe(false);
  });
});
