/**
 * runWorker on a job with `dependsOn`, in one process against the real PostgreSQL: chunks of whole
 * dependency components, so that records whose parents are planted far away in the file get the
 * outcomes a single run gives them (a failed parent skips its children, a missing parent fails its
 * child, a repeated key fails); a chunk resumed by another worker sees the outcomes of the parents
 * recorded before (succeeded: the child runs; failed: it is skipped). Worker processes, SIGKILL:
 * test/e2e/workers-dependencies.test.ts.
 */
import { expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { runJob } from '../../src/engine/run-job.js';
import { runWorker } from '../../src/distributed/run-worker.js';
import { WHOLE_WAITERS_UP_TO } from '../../src/distributed/chunk-source.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { fails, writePlantedDependencies } from '../helpers/planted-dependencies.js';
import { plantedJob, plantedOutcomes, withPlantedLedger } from '../helpers/planted-job.js';
import { tempDir } from '../helpers/temp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RECORDS = 3000;

describePg('runWorker with dependsOn', () => {
  pgPool();

  it('three workers give every record the outcome a single run gives it, each handler called once', async () => {
    const path = writePlantedDependencies(tempDir(), 'in.jsonl', RECORDS);
    const single = freshSchema('bg_worker_deps');
    const singleCalls = new Map<number, number>();
    await runJob(plantedJob(path, singleCalls), { ledger: PG_URL, pgSchema: single });

    const shared = freshSchema('bg_worker_deps');
    const calls = new Map<number, number>();
    const job = plantedJob(path, calls);
    const results = await Promise.all([0, 1, 2].map(() => runWorker(job, { ledger: PG_URL, pgSchema: shared, recordsPerChunk: 250 })));
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    // Every chunk was run, and more than one worker ran chunks.
    expect(results.reduce((sum, r) => sum + r.chunksDone, 0)).toBe(results[0]?.shared.chunksDone);
    expect(results.filter((r) => r.chunksDone > 0).length).toBeGreaterThan(1);

    const expected = await plantedOutcomes(single);
    expect(await plantedOutcomes(shared)).toEqual(expected);
    expect(calls).toEqual(singleCalls);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    // What the source holds: skipped children of failed parents, the missing parent, the repeated key.
    const { counts, rows } = expected as {
      counts: Record<string, number>;
      rows: { key: string; status: string; kind?: string; message?: string }[];
    };
    expect(counts).toMatchObject({ total: RECORDS + 2, pending: 0 });
    expect(counts.skipped).toBeGreaterThan(20);
    expect(rows.find((row) => row.key === '17')).toMatchObject({
      status: 'failed',
      kind: 'invalid',
      message: 'depends on "nowhere", which is not in the source (nor in the ledger)',
    });
    expect(rows.find((row) => row.key === '27')).toMatchObject({ status: 'skipped' });
    expect(rows.filter((row) => row.message?.startsWith('duplicate key "5"'))).toHaveLength(1);

    // A rerun after the shared run (one process) unblocks the children as after a single run.
    const fixed = (calls: Map<number, number>) => ({ ...plantedJob(path, calls), handler: async () => {} });
    await runJob(fixed(new Map()), { ledger: PG_URL, pgSchema: single, rerun: {} });
    await runJob(fixed(new Map()), { ledger: PG_URL, pgSchema: shared, rerun: {} });
    expect(await plantedOutcomes(shared)).toEqual(await plantedOutcomes(single));
  });

  it("a chunk resumed by another worker: its children see the parents' recorded outcomes, succeeded or failed", async () => {
    // One chunk: parents 1 (succeeds) and 37 (fails) early, their children at the very end.
    const dir = tempDir();
    const path = join(dir, 'in.jsonl');
    const lines = Array.from({ length: 400 }, (_, id) => JSON.stringify({ id }));
    lines.push(JSON.stringify({ id: 1001, after: ['1'] }), JSON.stringify({ id: 1002, after: ['37'] }), JSON.stringify({ id: 1 }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    const schema = freshSchema('bg_worker_deps');
    const options = { ledger: PG_URL, pgSchema: schema, lease: { expireMs: 600, renewEveryMs: 200 } };
    const stop = new AbortController();
    const calls = new Map<number, number>();
    const first = plantedJob(path, calls, {
      onCall: (id) => {
        if (id === 200) stop.abort();
      },
    });
    const interrupted = await runWorker(
      { ...first, concurrency: 1, checkpoint: { everyRecords: 10, everyMs: 1000 } },
      { ...options, signal: stop.signal },
    );
    expect(interrupted.status).toBe('interrupted');
    expect(calls.has(1001)).toBe(false);

    const resumed = await runWorker(plantedJob(path, calls), options);
    expect(resumed).toMatchObject({ status: 'completed', chunksTakenOver: 1 });
    expect(calls.get(1001)).toBe(1);
    expect(calls.has(1002)).toBe(false);
    const { rows } = (await plantedOutcomes(schema)) as { rows: { key: string; status: string; blockedBy?: string[]; message?: string }[] };
    expect(rows.find((row) => row.key === '1002')).toMatchObject({ status: 'skipped', blockedBy: ['37'] });
    // The repeated key is still one, though its first record was recorded by the worker before.
    expect(rows.find((row) => row.message?.startsWith('duplicate key "1"'))).toMatchObject({ status: 'failed', kind: 'invalid' });
    expect(await withPlantedLedger(schema, (ledger) => ledger.counts())).toMatchObject({ total: 403, failed: 12, skipped: 1, pending: 0 });
  });

  it('a source that is one component is one chunk: one worker runs it, children read before their parents waiting as positions', async () => {
    // A chain read children first: record i depends on i + 1, so every record waits until the last one is read.
    const records = WHOLE_WAITERS_UP_TO + 1000;
    const path = join(tempDir(), 'in.jsonl');
    const lines = Array.from({ length: records }, (_, id) => JSON.stringify(id === records - 1 ? { id } : { id, after: [String(id + 1)] }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    const order: number[] = [];
    const job = plantedJob(path, new Map(), { onCall: (id) => order.push(id) });
    const options = { ledger: PG_URL, pgSchema: freshSchema('bg_worker_deps'), recordsPerChunk: 1000 };
    const results = await Promise.all([runWorker(job, options), runWorker(job, options)]);
    expect(results.map((r) => r.chunksDone).sort()).toEqual([0, 1]);
    expect(results[0]?.shared).toMatchObject({ total: records, chunksDone: 1 });
    const planner = results.find((r) => r.planned);
    expect(planner?.warnings).toEqual([
      `${records} of the ${records} records are one component of the dependency graph (dependsOn): one worker runs them all, in one chunk`,
    ]);
    // Parents first; the every-37th failures skip the rest of the chain below them.
    const firstFailure = Math.max(...Array.from({ length: records }, (_, id) => id).filter(fails));
    expect(order[0]).toBe(records - 1);
    expect(order[order.length - 1]).toBe(firstFailure);
    expect(await withPlantedLedger(options.pgSchema, (ledger) => ledger.counts())).toMatchObject({
      total: records,
      failed: 1,
      skipped: firstFailure,
      succeeded: records - firstFailure - 1,
      pending: 0,
    });
  }, 60_000);

  it('a dependency cycle is the configuration error of a single run for the worker that meets it, and aborts the run for the others', async () => {
    const path = join(tempDir(), 'in.jsonl');
    const lines = Array.from({ length: 50 }, (_, id) => JSON.stringify({ id }));
    lines.push(JSON.stringify({ id: 100, after: ['101'] }), JSON.stringify({ id: 101, after: ['100'] }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    const job = plantedJob(path, new Map());
    const options = { ledger: PG_URL, pgSchema: freshSchema('bg_worker_deps'), recordsPerChunk: 10 };
    const settled = await Promise.allSettled([runWorker(job, options), runWorker(job, options)]);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed).toHaveLength(1);
    const error = (failed[0] as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe('dependency cycle: 101 → 100 → 101; a record cannot depend on itself, directly or through others');
    const other = (settled.find((s) => s.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof runWorker>>>).value;
    expect(other.status).toBe('aborted');
    expect(other.abortReason).toMatch(/^worker \S+ on \S+: dependency cycle: 101 → 100 → 101;/);
  });
});
