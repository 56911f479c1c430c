/**
 * The coordination of workers in PostgreSQL, against the real database, through the worker ledger
 * (src/ledger/worker-ledger.ts) as src/distributed/ uses it: planning once, leasing with SKIP
 * LOCKED, expiry and takeover, fencing, writes that land in the job's ledger, the shared breaker
 * and the run's end. A lease is made to expire by moving its expiry into the past in the backend's
 * table, not by waiting for it: the only raw SQL here, with a probe of the server's lock waits.
 */
import { expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import type { CommitBatch, RecordRow } from '../../src/ledger/ledger.js';
import type { ChunkPlan, LeasedChunk, WorkerLedger } from '../../src/ledger/worker-ledger.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';
import { workerLedgers } from '../helpers/worker-ledgers.js';

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
  const open = workerLedgers();

  async function setUp(chunks: number): Promise<{ workers: WorkerLedger; runId: string; schema: string }> {
    const schema = freshSchema('bg_workers');
    const workers = open(schema);
    const joined = await workers.joinRun({ owner: 'planner', newRunId: 'run-1', plan: () => Promise.resolve(plan(chunks)) });
    return { workers, runId: joined.runId, schema };
  }

  // Raw SQL on purpose: the test's clock is the lease row's expiry.
  const expire = (schema: string, chunk: number): Promise<unknown> =>
    pool.query(`UPDATE "${schema}".chunks SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE chunk = $1`, [chunk]);

  it('creates its tables once when many workers start together', async () => {
    const schema = freshSchema('bg_workers');
    const all = Array.from({ length: 6 }, () => open(schema));
    expect(await Promise.all(all.map((workers) => workers.runState('none')))).toEqual(Array(6).fill(undefined));
    // Raw SQL on purpose: the backend's own version row of the worker tables.
    const { rows } = await pool.query(`SELECT version FROM "${schema}".worker_schema`);
    expect(rows).toEqual([{ version: 5 }]);
  });

  it('plans once however many workers join at the same moment; the others join that run', async () => {
    const schema = freshSchema('bg_workers');
    let plans = 0;
    const slowPlan = async (): Promise<ChunkPlan> => {
      plans++;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return plan(5);
    };
    const joined = await Promise.all(
      Array.from({ length: 6 }, (_, i) => open(schema).joinRun({ owner: `w${i}`, newRunId: `run-${i}`, plan: slowPlan })),
    );
    expect(plans).toBe(1);
    expect(new Set(joined.map((j) => j.runId)).size).toBe(1);
    expect(joined.filter((j) => j.planned)).toHaveLength(1);
    expect(joined.every((j) => j.total === 50 && j.chunks === 5)).toBe(true);
  });

  it('leaves nothing behind when the planner fails; the next worker plans', async () => {
    const workers = open(freshSchema('bg_workers'));
    const failing = workers.joinRun({ owner: 'a', newRunId: 'run-a', plan: () => Promise.reject(new Error('disk gone')) });
    await expect(failing).rejects.toThrow('disk gone');
    const joined = await workers.joinRun({
      owner: 'b',
      newRunId: 'run-b',
      plan: () => Promise.resolve(plan(2)),
      runOptions: { worker: true },
    });
    expect(joined).toEqual({ runId: 'run-b', total: 20, chunks: 2, planned: true });
    expect(await workers.runState('run-a')).toBeUndefined();
    // The plan and the job's run are written together: the job's ledger has the planned run only.
    expect((await workers.ledger.runs(5)).map((run) => [run.runId, run.status])).toEqual([['run-b', 'running']]);
    expect(await workers.ledger.counts()).toMatchObject({ total: 20, pending: 20 });
  });

  it('gives every chunk to exactly one of many workers leasing at once', async () => {
    const { workers, runId } = await setUp(40);
    const taken: { owner: string; lease: LeasedChunk }[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (;;) {
          const lease = await workers.leaseChunk(runId, `w${w}`, LEASE_MS);
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
    const { workers, runId, schema } = await setUp(1);
    const first = await workers.leaseChunk(runId, 'a', LEASE_MS);
    expect(first?.token).toBe(1);
    expect(await workers.leaseChunk(runId, 'b', LEASE_MS)).toBeUndefined();
    const held = [{ chunk: 0, token: 1 }];
    expect(await workers.renewLeases(runId, 'a', held, LEASE_MS)).toEqual(new Set([0]));

    await expire(schema, 0);
    // Expired and not yet taken: still refused, so the holder cannot race the takeover it cannot see.
    expect(await workers.renewLeases(runId, 'a', held, LEASE_MS)).toEqual(new Set());
    const taken = await workers.leaseChunk(runId, 'b', LEASE_MS);
    expect(taken).toMatchObject({ token: 2, takenOver: true, chunk: { index: 0 } });

    let wrote = false;
    const stale = workers.fenced(runId, 'a', held, () => {
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
    await workers.fenced(runId, 'b', [{ chunk: 0, token: 2 }], (writes) => writes.writeOutcomes(successes(runId, 0, 9)));
    expect((await workers.runState(runId))?.succeeded).toBe(10);
  });

  it('keeps a chunk from being taken over while its holder is writing for it', async () => {
    const { workers, runId, schema } = await setUp(1);
    await workers.leaseChunk(runId, 'a', LEASE_MS);
    let expiring: Promise<unknown> | undefined;
    await workers.fenced(runId, 'a', [{ chunk: 0, token: 1 }], async (writes) => {
      await writes.writeOutcomes({ ...successes(runId, 0, 2), rows: [failedRow(runId, 3)] });
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
    const taken = await workers.leaseChunk(runId, 'b', LEASE_MS);
    expect(taken?.token).toBe(2);
    expect((await workers.runState(runId))?.failed).toBe(1);
  });

  it('skips a chunk locked by a fenced write instead of waiting or taking it', async () => {
    const { workers, runId } = await setUp(2);
    await workers.leaseChunk(runId, 'a', LEASE_MS);
    await workers.fenced(runId, 'a', [{ chunk: 0, token: 1 }], async () => {
      // Chunk 0 is share-locked by this transaction; force its expiry from outside the lock's reach
      // is impossible (the UPDATE would wait), so another worker asks and must get chunk 1.
      const other = await workers.leaseChunk(runId, 'b', LEASE_MS);
      expect(other?.chunk.index).toBe(1);
    });
  });

  it("writes a chunk's outcomes and steps into the job's ledger, where a takeover finds them", async () => {
    const { workers, runId } = await setUp(2);
    const lease = await workers.leaseChunk(runId, 'a', LEASE_MS);
    const held = [{ chunk: 0, token: lease?.token as number }];
    const failed = {
      seq: 5,
      key: '5',
      status: 'failed',
      kind: 'fatal',
      attempts: 1,
      runId,
      updatedAt: '2026-01-01T00:00:00.000Z',
    } as const;
    await workers.fenced(runId, 'a', held, async (writes) => {
      await writes.writeOutcomes({
        runId,
        succeeded: [{ first: 0, last: 3 }],
        rows: [failed],
        watermark: undefined,
        seen: 6,
        exhausted: false,
      });
      await writes.saveStep('2', 'fetch', '"done"');
    });
    expect(await workers.recordedIn(0, 9)).toEqual([
      { first: 0, last: 3 },
      { first: 5, last: 5 },
    ]);
    expect(await workers.ledger.counts()).toMatchObject({ total: 20, succeeded: 4, failed: 1, pending: 15 });
    expect(await workers.ledger.completedSteps('2')).toEqual(new Map([['fetch', { result: '"done"' }]]));
    expect((await workers.runState(runId))?.failed).toBe(1);
  });

  it('completes the run only when every chunk is done', async () => {
    const { workers, runId } = await setUp(2);
    const a = await workers.leaseChunk(runId, 'a', LEASE_MS);
    const b = await workers.leaseChunk(runId, 'b', LEASE_MS);
    if (a === undefined || b === undefined) throw new Error('two leases expected');
    const done = (owner: string, lease: LeasedChunk): Promise<void> => {
      const held = { chunk: lease.chunk.index, token: lease.token };
      return workers.fenced(runId, owner, [held], (writes) => writes.markChunkDone(held));
    };
    await done('a', a);
    expect(await workers.completeRun(runId)).toBe(false);
    expect(await workers.runState(runId)).toMatchObject({ status: 'running', chunksDone: 1, chunksLeased: 1, chunksOpen: 0 });
    await done('b', b);
    expect(await workers.completeRun(runId)).toBe(true);
    expect(await workers.completeRun(runId)).toBe(false);
    expect((await workers.runState(runId))?.status).toBe('completed');
    // The job's next run is a new one.
    const next = await workers.joinRun({ owner: 'c', newRunId: 'run-2', plan: () => Promise.resolve(plan(1)) });
    expect(next.planned).toBe(true);
  });

  it('shares one breaker: opened once, one prober at a time, closed by the prober', async () => {
    const { workers, runId, schema } = await setUp(1);
    expect(await workers.openBreaker(runId, 'ECONNREFUSED')).toBe(true);
    expect(await workers.openBreaker(runId, 'other')).toBe(false);
    expect(await workers.runState(runId)).toMatchObject({ breaker: 'open', breakerReason: 'ECONNREFUSED' });
    expect(await workers.claimProbe(runId, 'a', LEASE_MS)).toBe(true);
    expect(await workers.claimProbe(runId, 'b', LEASE_MS)).toBe(false);
    expect(await workers.claimProbe(runId, 'a', LEASE_MS)).toBe(true);
    expect(await workers.closeBreaker(runId, 'b')).toBe(false);
    expect((await workers.runState(runId))?.probeOwner).toBe('a');
    // A prober that dies lets another take the probe once its probe lease ends (raw SQL on purpose: the test's clock).
    await pool.query(`UPDATE "${schema}".worker_runs SET probe_expires_at = clock_timestamp() - interval '1 second'`);
    expect(await workers.claimProbe(runId, 'b', LEASE_MS)).toBe(true);
    expect(await workers.closeBreaker(runId, 'b')).toBe(true);
    expect(await workers.runState(runId)).toMatchObject({ breaker: 'closed', breakerOpenMs: 0, probeOwner: undefined });
  });

  it('aborts for all with the first reason', async () => {
    const { workers, runId } = await setUp(1);
    expect(await workers.abortRun(runId, 'breaker open for 600 s')).toBe(true);
    expect(await workers.abortRun(runId, 'later')).toBe(false);
    expect(await workers.runState(runId)).toMatchObject({ status: 'aborted', abortReason: 'breaker open for 600 s' });
    expect(await workers.openBreaker(runId, 'x')).toBe(false);
    // An aborted run leases no chunk (its chunk is still open).
    expect(await workers.leaseChunk(runId, 'a', LEASE_MS)).toBeUndefined();
  });

  it('stores a reason holding U+0000 (which PostgreSQL text cannot hold) with it written as \\0', async () => {
    const breaker = await setUp(1);
    expect(await breaker.workers.openBreaker(breaker.runId, 'Error: bad\u0000byte')).toBe(true);
    expect(await breaker.workers.runState(breaker.runId)).toMatchObject({ breakerReason: 'Error: bad\\0byte' });
    const aborted = await setUp(1);
    expect(await aborted.workers.abortRun(aborted.runId, 'line 3: \u0000')).toBe(true);
    expect(await aborted.workers.runState(aborted.runId)).toMatchObject({ abortReason: 'line 3: \\0' });
  });

  it("marks a chunk done with its last outcomes, or with none when the chunk's last commit has none", async () => {
    const { workers, runId } = await setUp(2);
    const a = await workers.leaseChunk(runId, 'a', LEASE_MS);
    const b = await workers.leaseChunk(runId, 'a', LEASE_MS);
    if (a === undefined || b === undefined) throw new Error('two leases expected');
    const first = { chunk: 0, token: a.token };
    const second = { chunk: 1, token: b.token };
    await workers.fenced(runId, 'a', [first], (writes) => writes.writeOutcomes(successes(runId, 0, 9), first));
    expect(await workers.runState(runId)).toMatchObject({ succeeded: 10, chunksDone: 1, chunksLeased: 1 });
    await workers.fenced(runId, 'a', [second], (writes) => writes.writeOutcomes({ ...successes(runId, 10, 9), succeeded: [] }, second));
    expect(await workers.runState(runId)).toMatchObject({ succeeded: 10, chunksDone: 2 });
    expect(await workers.completeRun(runId)).toBe(true);
  });

  it("counts each worker's outcomes in a row of its own; the run's counts are their sum, with a version 3 worker's", async () => {
    const { workers, runId, schema } = await setUp(2);
    const a = await workers.leaseChunk(runId, 'a', LEASE_MS);
    const b = await workers.leaseChunk(runId, 'b', LEASE_MS);
    if (a === undefined || b === undefined) throw new Error('two leases expected');
    await workers.fenced(runId, 'a', [{ chunk: 0, token: a.token }], (writes) => writes.writeOutcomes(successes(runId, 0, 4)));
    await workers.fenced(runId, 'b', [{ chunk: 1, token: b.token }], (writes) =>
      writes.writeOutcomes({ ...successes(runId, 10, 11), rows: [failedRow(runId, 12)] }),
    );
    await workers.fenced(runId, 'a', [{ chunk: 0, token: a.token }], (writes) => writes.writeOutcomes(successes(runId, 5, 6)));
    // Raw SQL on purpose: the rows as stored, and counts as a worker of version 3 added them (to the run's row).
    const { rows } = await pool.query(`SELECT owner, succeeded::int, failed::int FROM "${schema}".worker_counts ORDER BY owner`);
    expect(rows).toEqual([
      { owner: 'a', succeeded: 7, failed: 0 },
      { owner: 'b', succeeded: 2, failed: 1 },
    ]);
    await pool.query(`UPDATE "${schema}".worker_runs SET succeeded = succeeded + 3`);
    expect(await workers.runState(runId)).toMatchObject({ succeeded: 12, failed: 1, skipped: 0 });
  });
});

/** A commit of the successes `first` … `last` of `runId`. */
function successes(runId: string, first: number, last: number): CommitBatch {
  return { runId, succeeded: [{ first, last }], rows: [], watermark: undefined, seen: last + 1, exhausted: false };
}

function failedRow(runId: string, seq: number): RecordRow {
  return { seq, key: String(seq), status: 'failed', kind: 'fatal', attempts: 1, runId, updatedAt: '2026-01-01T00:00:00.000Z' };
}
