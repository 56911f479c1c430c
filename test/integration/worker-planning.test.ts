/**
 * Planning a shared run against the real PostgreSQL: a plan takes as long as the source takes to
 * read (a slow disk, millions of records), however short the lease, and nobody plans twice; a
 * planner stopped past its lease is replaced, and its late plan is refused. A planner is made to
 * look stopped by moving its planning lease's expiry into the past in the backend's table: the
 * only raw SQL here.
 */
import { expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import type { ChunkPlan } from '../../src/ledger/worker-ledger.js';
import { WORKER_SCHEMA_VERSION } from '../../src/ledger/postgres/workers/create-worker-tables.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';
import { workerLedgers } from '../helpers/worker-ledgers.js';

/** A plan of `chunks` chunks of 10 items each. */
function plan(chunks: number): ChunkPlan {
  return {
    total: chunks * 10,
    chunks: Array.from({ length: chunks }, (_, index) => ({ index, from: { seq: index * 10, line: index * 10 + 1 }, count: 10 })),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describePg('planning a shared run', () => {
  const pool = pgPool();
  const open = workerLedgers();
  /** A lease far shorter than the plan below takes. */
  const SHORT = { expireMs: 400, renewEveryMs: 100 };

  it('plans a source that takes several lease times to read', async () => {
    const workers = open(freshSchema('bg_planning'), SHORT);
    const started = Date.now();
    const joined = await workers.joinRun({
      owner: 'a',
      newRunId: 'run-a',
      plan: async () => {
        await sleep(5 * SHORT.expireMs);
        return plan(3);
      },
    });
    expect(joined).toEqual({ runId: 'run-a', total: 30, chunks: 3, planned: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * SHORT.expireMs);
    expect(await workers.runState('run-a')).toMatchObject({ status: 'running', total: 30, chunksOpen: 3 });
  });

  it('makes the workers that join during a long plan wait for it, not plan again', async () => {
    const schema = freshSchema('bg_planning');
    let plans = 0;
    const slowPlan = async (): Promise<ChunkPlan> => {
      plans++;
      await sleep(4 * SHORT.expireMs);
      return plan(2);
    };
    const first = open(schema, SHORT).joinRun({ owner: 'a', newRunId: 'run-a', plan: slowPlan });
    await sleep(SHORT.expireMs);
    const later = await Promise.all(
      ['b', 'c'].map((owner) => open(schema, SHORT).joinRun({ owner, newRunId: `run-${owner}`, plan: slowPlan })),
    );
    expect(await first).toMatchObject({ runId: 'run-a', planned: true });
    expect(later).toEqual([
      { runId: 'run-a', total: 20, chunks: 2, planned: false },
      { runId: 'run-a', total: 20, chunks: 2, planned: false },
    ]);
    expect(plans).toBe(1);
  });

  it('replaces a planner stopped past its lease; its late plan is refused and it joins the new one', async () => {
    const schema = freshSchema('bg_planning');
    // Renewed rarely: between two renewals the planner is as good as stopped.
    const rare = { expireMs: 60_000, renewEveryMs: 20_000 };
    let release: (() => void) | undefined;
    const stoppedPlan = new Promise<void>((resolve) => (release = resolve));
    const stopped = open(schema, rare).joinRun({
      owner: 'a',
      newRunId: 'run-a',
      plan: async () => {
        await stoppedPlan;
        return plan(5);
      },
    });
    // Once its planning lease is taken (creating the tables first may take longer than any fixed wait on a loaded machine).
    while ((await pool.query(`SELECT 1 FROM "${schema}".run_plans WHERE owner = 'a'`).catch(() => ({ rows: [] }))).rows.length === 0) {
      await sleep(20);
    }
    let replacementPlans = 0;
    const replacement = open(schema, rare).joinRun({
      owner: 'b',
      newRunId: 'run-b',
      plan: () => {
        replacementPlans++;
        return Promise.resolve(plan(2));
      },
    });
    await sleep(300);
    expect(replacementPlans).toBe(0);
    // Raw SQL on purpose: the planning lease expires without waiting a minute for it.
    const moved = await pool.query(`UPDATE "${schema}".run_plans SET expires_at = clock_timestamp() - interval '1 second'`);
    expect(moved.rowCount).toBe(1);
    expect(await replacement).toEqual({ runId: 'run-b', total: 20, chunks: 2, planned: true });
    (release as () => void)();
    expect(await stopped).toEqual({ runId: 'run-b', total: 20, chunks: 2, planned: false });
    expect(replacementPlans).toBe(1);
  });

  it('upgrades the worker tables of version 1 (no planning lease) in place, keeping their runs', async () => {
    const schema = freshSchema('bg_planning');
    const before = open(schema);
    await before.joinRun({ owner: 'a', newRunId: 'run-a', plan: () => Promise.resolve(plan(2)) });
    // Raw SQL on purpose: the tables as version 1 left them.
    await pool.query(
      `DROP TABLE "${schema}".run_plans; DROP TABLE "${schema}".worker_counts; ALTER TABLE "${schema}".worker_runs DROP COLUMN rerun;
       ALTER TABLE "${schema}".chunks DROP COLUMN selected_seqs, DROP COLUMN selected_keys, DROP COLUMN segments;
       UPDATE "${schema}".worker_schema SET version = 1`,
    );
    const after = open(schema);
    expect(await after.joinRun({ owner: 'b', newRunId: 'run-b', plan: () => Promise.reject(new Error('not planned again')) })).toEqual({
      runId: 'run-a',
      total: 20,
      chunks: 2,
      planned: false,
    });
    expect((await pool.query(`SELECT version FROM "${schema}".worker_schema`)).rows).toEqual([{ version: WORKER_SCHEMA_VERSION }]);
    expect((await pool.query(`SELECT owner FROM "${schema}".run_plans`)).rows).toEqual([]);
  });
  it("a rerun's workers join only the running rerun of the same selection, and lease its chunks with their selected records", async () => {
    const schema = freshSchema('bg_planning');
    const [a, b] = [open(schema), open(schema)];
    const rerunPlan: ChunkPlan = {
      total: 3,
      chunks: [
        {
          index: 0,
          from: { seq: 5, line: 6, offset: 50 },
          count: 8,
          selected: [
            { seq: 5, key: '5' },
            { seq: 9, key: 'two\nlines' },
            { seq: 12, key: '12' },
          ],
        },
      ],
    };
    const notAgain = (): Promise<ChunkPlan> => Promise.reject(new Error('not planned again'));
    expect(await a.joinRun({ owner: 'a', newRunId: 'rerun-a', plan: () => Promise.resolve(rerunPlan), rerun: '--failed' })).toEqual({
      runId: 'rerun-a',
      total: 3,
      chunks: 1,
      planned: true,
    });
    expect(await b.joinRun({ owner: 'b', newRunId: 'rerun-b', plan: notAgain, rerun: '--failed' })).toEqual({
      runId: 'rerun-a',
      total: 3,
      chunks: 1,
      planned: false,
    });
    const refused = (rerun: string | undefined, asked: string): Promise<void> =>
      expect(b.joinRun({ owner: 'b', newRunId: 'other', plan: notAgain, ...(rerun === undefined ? {} : { rerun }) })).rejects.toThrow(
        new LedgerError(
          'LEDGER_LOCKED',
          `job j has a shared rerun (--failed) in progress, run rerun-a, and this worker was started for ${asked}: ` +
            'start it again once that run has ended (`batchguard status` shows it), or start it with the same command as the running one',
        ),
      );
    await refused(undefined, 'a run');
    await refused('--failed --kind fatal', 'a rerun (--failed --kind fatal)');
    expect((await b.leaseChunk('rerun-a', 'b', 10_000))?.chunk).toEqual(rerunPlan.chunks[0]);
  });

  it("a run's workers do not join a rerun started meanwhile, nor the reverse", async () => {
    const schema = freshSchema('bg_planning');
    const [a, b] = [open(schema), open(schema)];
    await a.joinRun({ owner: 'a', newRunId: 'run-a', plan: () => Promise.resolve(plan(2)) });
    await expect(b.joinRun({ owner: 'b', newRunId: 'rerun-b', plan: () => Promise.resolve(plan(1)), rerun: '--failed' })).rejects.toThrow(
      'job j has a shared run in progress, run run-a, and this worker was started for a rerun (--failed): ',
    );
    // A run's chunk carries no selection.
    expect((await b.leaseChunk('run-a', 'b', 10_000))?.chunk).toEqual(plan(2).chunks[0]);
  });
});
