/**
 * A rerun of a job with `dependsOn` shared by workers (runWorker with `rerun`), in one process
 * against the real PostgreSQL. The source plants parents half the file away from their children,
 * so that slices of the selection in source order would part a failed parent from the skipped
 * children it blocks; packed by dependency component, the rerun gives every record the outcome a
 * single-process rerun gives it on the same ledger.
 */
import { expect, it } from 'vitest';
import { FatalError } from '../../src/errors.js';
import { defineJob, type Job } from '../../src/job.js';
import { runJob } from '../../src/engine/run-job.js';
import { runWorker } from '../../src/distributed/run-worker.js';
import { planRerunChunks } from '../../src/distributed/rerun-chunk-plan.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { fails, writePlantedDependencies, type PlantedRecord } from '../helpers/planted-dependencies.js';
import { rowsOf } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const RECORDS = 4000;

/** The first run fails every 37th record; the rerun every 74th again (some parents stay failed), the rest succeed. */
function plantedJob(
  path: string,
  failing: (id: number) => boolean,
  calls: Map<number, number>,
  onCall?: (id: number) => void,
): Job<PlantedRecord, unknown> {
  return defineJob<PlantedRecord>({
    name: 'planted',
    source: jsonl(path),
    key: (r) => String(r.id),
    dependsOn: (r) => r.after ?? [],
    concurrency: 8,
    retry: { maxAttempts: 1 },
    maxFailureRate: 1,
    handler: async (r) => {
      calls.set(r.id, (calls.get(r.id) ?? 0) + 1);
      onCall?.(r.id);
      await Promise.resolve();
      if (failing(r.id)) throw new FatalError(`bad record ${r.id}`);
    },
  });
}

async function withLedger<T>(schema: string, read: (ledger: Ledger) => Promise<T>): Promise<T> {
  const { ledger } = openLedger(PG_URL, { job: 'planted', pgSchema: schema });
  try {
    return await read(ledger);
  } finally {
    await ledger.close();
  }
}

/** What `status` and `failures` show: the counts, and every stored row's outcome (not its run or time). */
async function outcomes(schema: string): Promise<unknown> {
  return withLedger(schema, async (ledger) => ({
    counts: await ledger.counts(),
    rows: (await rowsOf(ledger)).map((row) => ({
      seq: row.seq,
      key: row.key,
      status: row.status,
      kind: row.kind,
      attempts: row.attempts,
      blockedBy: row.blockedBy,
      message: row.error?.message,
    })),
  }));
}

describePg('a shared rerun of a job with dependsOn', () => {
  pgPool();

  it("three workers re-run a failed parent with the children it blocks: the outcomes are a single rerun's, each record called once", async () => {
    const path = writePlantedDependencies(tempDir(), 'in.jsonl', RECORDS);
    const single = freshSchema('bg_rerun_deps');
    const shared = freshSchema('bg_rerun_deps');
    for (const schema of [single, shared]) await runJob(plantedJob(path, fails, new Map()), { ledger: PG_URL, pgSchema: schema });
    expect(await outcomes(shared)).toEqual(await outcomes(single));

    // The selection holds skipped children whose failed parent lies half the file away: a slice
    // of it in source order parts them; packed by component, they are in one chunk.
    const job = plantedJob(path, (id) => id % 74 === 0, new Map());
    const { plan: sliced } = await withLedger(shared, (ledger) => planRerunChunks(ledger, {}, { recordsPerChunk: 10 }));
    const { plan: packed } = await withLedger(shared, (ledger) => planRerunChunks(ledger, {}, { recordsPerChunk: 10, job }));
    const { rows } = (await outcomes(shared)) as { rows: { key: string; status: string; blockedBy?: string[] }[] };
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
    await runJob(
      plantedJob(path, (id) => id % 74 === 0, singleCalls),
      { ledger: PG_URL, pgSchema: single, rerun: {} },
    );
    const calls = new Map<number, number>();
    const rerun = plantedJob(path, (id) => id % 74 === 0, calls);
    const results = await Promise.all(
      [0, 1, 2].map(() => runWorker(rerun, { ledger: PG_URL, pgSchema: shared, rerun: {}, recordsPerChunk: 10 })),
    );
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(results.filter((r) => r.chunksDone > 0).length).toBeGreaterThan(1);
    expect(results.reduce((sum, r) => sum + r.chunksDone, 0)).toBe(packed.chunks.length);

    const expected = await outcomes(single);
    expect(await outcomes(shared)).toEqual(expected);
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
    await runJob(plantedJob(path, fails, new Map()), { ledger: PG_URL, pgSchema: schema });
    const options = { ledger: PG_URL, pgSchema: schema, rerun: {}, lease: { expireMs: 600, renewEveryMs: 200 } };
    const stop = new AbortController();
    const calls = new Map<number, number>();
    const failing = (id: number): boolean => id === 74;
    const first = plantedJob(path, failing, calls, (id) => {
      if (id === 370) stop.abort();
    });
    const interrupted = await runWorker(
      { ...first, concurrency: 1, checkpoint: { everyRecords: 1, everyMs: 1000 } },
      { ...options, signal: stop.signal },
    );
    expect(interrupted.status).toBe('interrupted');
    expect(calls.has(37) && calls.has(74) && !calls.has(1001)).toBe(true);

    const resumed = await runWorker(plantedJob(path, failing, calls), options);
    expect(resumed).toMatchObject({ status: 'completed', chunksTakenOver: 1 });
    expect(calls.get(1001)).toBe(1);
    expect(calls.has(1002)).toBe(false);
    expect(calls.get(37)).toBe(1);
    const { rows } = (await outcomes(schema)) as { rows: { key: string; status: string; blockedBy?: string[] }[] };
    expect(rows.find((row) => row.key === '1001')).toMatchObject({ status: 'succeeded' });
    expect(rows.find((row) => row.key === '1002')).toMatchObject({ status: 'skipped', blockedBy: ['74'] });
    expect(await withLedger(schema, (ledger) => ledger.counts())).toMatchObject({ total: 402, failed: 1, skipped: 1, pending: 0 });
  });
});
