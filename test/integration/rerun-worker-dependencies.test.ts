/**
 * A rerun of a job with `dependsOn` shared by workers (runWorker with `rerun`), in one process
 * against the real PostgreSQL. The source plants parents half the file away from their children,
 * so that slices of the selection in source order would part a failed parent from the skipped
 * children it blocks; packed by dependency component, the rerun gives every record the outcome a
 * single-process rerun gives it on the same ledger.
 */
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { runWorker } from '../../src/distributed/run-worker.js';
import { planRerunChunks } from '../../src/distributed/rerun-chunk-plan.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { writePlantedDependencies } from '../helpers/planted-dependencies.js';
import { plantedJob, plantedOutcomes, withPlantedLedger } from '../helpers/planted-job.js';
import { tempDir } from '../helpers/temp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RECORDS = 4000;

describePg('a shared rerun of a job with dependsOn', () => {
  pgPool();

  it("three workers re-run a failed parent with the children it blocks: the outcomes are a single rerun's, each record called once", async () => {
    const path = writePlantedDependencies(tempDir(), 'in.jsonl', RECORDS);
    const single = freshSchema('bg_rerun_deps');
    const shared = freshSchema('bg_rerun_deps');
    for (const schema of [single, shared]) await runJob(plantedJob(path, new Map()), { ledger: PG_URL, pgSchema: schema });
    expect(await plantedOutcomes(shared)).toEqual(await plantedOutcomes(single));

    // The selection holds skipped children whose failed parent lies half the file away: a slice
    // of it in source order parts them; packed by component, they are in one chunk.
    const job = plantedJob(path, new Map(), { failing: (id) => id % 74 === 0 });
    const { plan: sliced } = await withPlantedLedger(shared, (ledger) => planRerunChunks(ledger, {}, { recordsPerChunk: 10 }));
    const { plan: packed } = await withPlantedLedger(shared, (ledger) => planRerunChunks(ledger, {}, { recordsPerChunk: 10, job }));
    const { rows } = (await plantedOutcomes(shared)) as { rows: { key: string; status: string; blockedBy?: string[] }[] };
    const skipped = rows.filter((row) => row.status === 'skipped' && row.blockedBy !== undefined);
    expect(skipped.length).toBeGreaterThan(20);
    const chunkOf = (plan: typeof sliced, key: string): number | undefined =>
      plan.chunks.find((chunk) => chunk.selected?.some((r) => r.key === key))?.index;
    const apart = (plan: typeof sliced): number =>
      skipped.filter((row) => chunkOf(plan, row.key) !== chunkOf(plan, row.blockedBy?.at(-1) as string)).length;
    expect(apart(sliced)).toBeGreaterThan(10);
    expect(apart(packed)).toBe(0);
    expect(packed.total).toBe(sliced.total);
    expect(packed.chunks.length).toBeGreaterThan(3);
    expect(packed.chunks.some((chunk) => (chunk.segments?.length ?? 0) > 1)).toBe(true);

    const singleCalls = new Map<number, number>();
    await runJob(plantedJob(path, singleCalls, { failing: (id) => id % 74 === 0 }), { ledger: PG_URL, pgSchema: single, rerun: {} });
    const calls = new Map<number, number>();
    const rerun = plantedJob(path, calls, { failing: (id) => id % 74 === 0 });
    const results = await Promise.all(
      [0, 1, 2].map(() => runWorker(rerun, { ledger: PG_URL, pgSchema: shared, rerun: {}, recordsPerChunk: 10 })),
    );
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(results.filter((r) => r.chunksDone > 0).length).toBeGreaterThan(1);
    expect(results.reduce((sum, r) => sum + r.chunksDone, 0)).toBe(packed.chunks.length);

    const expected = await plantedOutcomes(single);
    expect(await plantedOutcomes(shared)).toEqual(expected);
    expect(calls).toEqual(singleCalls);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    // Children whose parent now succeeds ran; those whose parent failed again are skipped again.
    const after = (expected as { rows: { status: string; blockedBy?: string[] }[] }).rows;
    expect(after.filter((row) => row.status === 'skipped').length).toBeGreaterThan(0);
    expect(after.filter((row) => row.status === 'skipped').length).toBeLessThan(skipped.length);
  });

  it("a rerun chunk resumed by another worker: children see their parents' outcomes of this rerun, succeeded or failed again", async () => {
    // Parents 37 and 74 fail in the run, and block 1001 and 1002, read last; the rerun fails 74 again.
    const path = join(tempDir(), 'in.jsonl');
    const lines = Array.from({ length: 400 }, (_, id) => JSON.stringify({ id }));
    lines.push(JSON.stringify({ id: 1001, after: ['37'] }), JSON.stringify({ id: 1002, after: ['74'] }));
    writeFileSync(path, `${lines.join('\n')}\n`);
    const schema = freshSchema('bg_rerun_deps');
    await runJob(plantedJob(path, new Map()), { ledger: PG_URL, pgSchema: schema });
    const options = { ledger: PG_URL, pgSchema: schema, rerun: {}, lease: { expireMs: 600, renewEveryMs: 200 } };
    const stop = new AbortController();
    const calls = new Map<number, number>();
    const failing = (id: number): boolean => id === 74;
    const first = plantedJob(path, calls, {
      failing,
      onCall: (id) => {
        if (id === 370) stop.abort();
      },
    });
    const interrupted = await runWorker(
      { ...first, concurrency: 1, checkpoint: { everyRecords: 1, everyMs: 1000 } },
      { ...options, signal: stop.signal },
    );
    expect(interrupted.status).toBe('interrupted');
    expect(calls.has(37) && calls.has(74) && !calls.has(1001)).toBe(true);

    const resumed = await runWorker(plantedJob(path, calls, { failing }), options);
    expect(resumed).toMatchObject({ status: 'completed', chunksTakenOver: 1 });
    expect(calls.get(1001)).toBe(1);
    expect(calls.has(1002)).toBe(false);
    expect(calls.get(37)).toBe(1);
    const { rows } = (await plantedOutcomes(schema)) as { rows: { key: string; status: string; blockedBy?: string[] }[] };
    expect(rows.find((row) => row.key === '1001')).toMatchObject({ status: 'succeeded' });
    expect(rows.find((row) => row.key === '1002')).toMatchObject({ status: 'skipped', blockedBy: ['74'] });
    expect(await withPlantedLedger(schema, (ledger) => ledger.counts())).toMatchObject({ total: 402, failed: 1, skipped: 1, pending: 0 });
  });
});
