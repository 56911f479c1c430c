/**
 * runWorker in one process against the real PostgreSQL: several workers share one run to its end,
 * each record gets exactly one outcome, failures land in the ledger that `failures` reads, and a
 * second pass after a run completed starts a new run. (Workers in separate processes, SIGKILL and
 * SIGSTOP: test/e2e/workers.test.ts.)
 */
import { createRequire } from 'node:module';
import { setTimeout as setTimeoutAsync } from 'node:timers/promises';
import { expect, it } from 'vitest';
import { ConfigError, FatalError, RetryableError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { runWorker } from '../../src/distributed/run-worker.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { collect } from '../helpers/sources.js';
import { expectOneOutcomeEach } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

type Query = (this: unknown, ...args: unknown[]) => unknown;

/** The `pg` the ledger loads (the project's own): its queries can be held back or made to fail. */
const pg = createRequire(import.meta.url)('pg') as { Client: { prototype: { query: Query } } };

/**
 * Runs `use` with every query of pg's clients going through `wrap` (the client, the statement's
 * text, the query's arguments, and the real query to call), then puts the real one back.
 */
async function withQueries<T>(
  wrap: (client: Record<string, unknown>, text: string, args: unknown[], query: Query) => unknown,
  use: () => Promise<T>,
): Promise<T> {
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const config = args[0];
    const text = typeof config === 'string' ? config : ((config as { text?: string } | undefined)?.text ?? '');
    return wrap(this as Record<string, unknown>, text, args, query);
  };
  try {
    return await use();
  } finally {
    pg.Client.prototype.query = query;
  }
}

/** A job of `count` records whose handler does nothing. */
function noopJob(name: string, count: number) {
  return defineJob<{ id: number }>({
    name,
    source: jsonl(writeJsonl(tempDir(), 'in.jsonl', count)),
    key: (r) => String(r.id),
    handler: async () => {},
  });
}

/** The newest run of `job` that the ledger in `schema` lists. */
async function newestRun(job: string, schema: string) {
  const { ledger } = openLedger(PG_URL, { job, pgSchema: schema });
  try {
    return (await ledger.runs(1))[0];
  } finally {
    await ledger.close();
  }
}

describePg('runWorker', () => {
  // Drops the schemas of this file's tests once they end.
  pgPool();

  it('shares one run among three workers: every record once, the run completed for all', async () => {
    const schema = freshSchema('bg_worker');
    const path = writeJsonl(tempDir(), 'in.jsonl', 5000);
    const calls = new Map<number, number>();
    const job = defineJob<{ id: number }>({
      name: 'shared',
      source: jsonl(path),
      key: (r) => String(r.id),
      concurrency: 8,
      handler: async (r) => {
        calls.set(r.id, (calls.get(r.id) ?? 0) + 1);
        if (r.id % 1000 === 7) throw new FatalError(`bad record ${r.id}`);
      },
    });
    const results = await Promise.all([0, 1, 2].map(() => runWorker(job, { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 250 })));
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed', 'completed']);
    expect(new Set(results.map((r) => r.runId)).size).toBe(1);
    expect(results.filter((r) => r.planned)).toHaveLength(1);
    expect(results.reduce((sum, r) => sum + r.chunksDone, 0)).toBe(20);
    expect(results.reduce((sum, r) => sum + r.records, 0)).toBe(5000);
    expect(calls.size).toBe(5000);
    expect([...calls.values()].every((n) => n === 1)).toBe(true);
    expect(results[0]?.shared).toMatchObject({ status: 'completed', total: 5000, succeeded: 4995, failed: 5, chunksDone: 20 });

    const { ledger } = openLedger(PG_URL, { job: 'shared', pgSchema: schema });
    try {
      expect(await ledger.counts()).toEqual({ total: 5000, succeeded: 4995, failed: 5, skipped: 0, pending: 0, sourceExhausted: true });
      const failed = await collect(ledger.rows({ statuses: ['failed'] }));
      expect(failed.map((row) => row.key)).toEqual(['7', '1007', '2007', '3007', '4007']);
      const runs = await ledger.runs(5);
      expect(runs[0]).toMatchObject({ runId: results[0]?.runId, status: 'completed' });
      // One outcome per record: success ranges of different chunks never overlap, nor a failure's row.
      await expectOneOutcomeEach(ledger, 5000);
    } finally {
      await ledger.close();
    }

    // The run is over: the next worker plans a new one, and finds every record done.
    const again = await runWorker(job, { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 250 });
    expect(again).toMatchObject({ status: 'completed', planned: true, records: 0 });
    expect(calls.size).toBe(5000);
  });

  it("records the run's end when it completes while the worker's last chunk is still closing", async () => {
    // The transaction that marks a chunk done answers 400 ms after the server committed it, and a
    // lease is asked for 150 ms late: the worker finds no chunk and completes the run while its last
    // chunk has not closed yet.
    const schema = freshSchema('bg_worker');
    const result = await withQueries(
      (client, text, args, query) => {
        if (text.includes("SET status = 'done'")) client.markedDone = true;
        if (text.includes("SET status = 'leased'")) return setTimeoutAsync(150).then(() => query.apply(client, args));
        if (text !== 'COMMIT' || client.markedDone !== true) return query.apply(client, args);
        client.markedDone = false;
        const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (...answer: unknown[]) => void) : undefined;
        if (callback) return query.call(client, ...args, (...answer: unknown[]) => setTimeout(() => callback(...answer), 400));
        return (query.apply(client, args) as Promise<unknown>).then((answer) => setTimeoutAsync(400).then(() => answer));
      },
      () => runWorker(noopJob('closing', 300), { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 100 }),
    );
    expect(result).toMatchObject({ status: 'completed', chunksDone: 3, records: 300 });
    expect(await newestRun('closing', schema)).toMatchObject({ runId: result.runId, status: 'completed' });
  });

  it("records the run's end when the worker that completed it dies before it could", async () => {
    // The first worker to record the run's end fails to (as if killed just before): another records it.
    const schema = freshSchema('bg_worker');
    let failed = 0;
    const results = await withQueries(
      (client, text, args, query) => {
        if (/UPDATE \S+\.runs SET status/.test(text) && failed++ === 0) throw new Error('the worker died before it recorded the end');
        return query.apply(client, args);
      },
      () =>
        Promise.allSettled(
          [0, 1].map(() => runWorker(noopJob('completer-dies', 400), { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 100 })),
        ),
    );
    expect(failed).toBeGreaterThan(1);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(await newestRun('completer-dies', schema)).toMatchObject({ status: 'completed' });
  });

  it("decides maxFailures on every worker's failures together, once the run is over", async () => {
    const schema = freshSchema('bg_worker');
    const path = writeJsonl(tempDir(), 'in.jsonl', 600);
    const job = defineJob<{ id: number }>({
      name: 'max-failures',
      source: jsonl(path),
      key: (r) => String(r.id),
      // 4 failures, one in each of 4 chunks: no chunk has more than 3, the run has.
      maxFailures: 3,
      handler: async (r) => {
        if (r.id % 150 === 7) throw new FatalError(`bad record ${r.id}`);
      },
    });
    const results = await Promise.all([0, 1].map(() => runWorker(job, { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 150 })));
    expect(results.map((r) => r.status)).toEqual(['threshold-exceeded', 'threshold-exceeded']);
    // Decided and said as a single run's summary would (engine/run-status.ts), on the shared counts.
    expect(results.map((r) => r.reason)).toEqual([
      '4 records failed, more than maxFailures 3',
      '4 records failed, more than maxFailures 3',
    ]);
    expect(results[0]?.shared).toMatchObject({ status: 'completed', succeeded: 596, failed: 4 });
    // The option given to the worker wins over the job's.
    const again = freshSchema('bg_worker');
    expect(await runWorker(job, { ledger: PG_URL, pgSchema: again, recordsPerChunk: 150, maxFailures: 4 })).toMatchObject({
      status: 'completed',
      reason: '4 records failed, within the thresholds',
    });
    // The failure rate is the summary's, failed over decided records: 4 of 600 is above 0.5%.
    const third = freshSchema('bg_worker');
    expect(
      await runWorker(job, { ledger: PG_URL, pgSchema: third, recordsPerChunk: 150, maxFailures: 4, maxFailureRate: 0.005 }),
    ).toMatchObject({
      status: 'threshold-exceeded',
      reason: 'failure rate 0.67% is above maxFailureRate 0.50%',
    });
  });

  it('refuses a job workers cannot share, saying why', async () => {
    const job = defineJob<{ id: number }>({
      name: 'deps',
      source: [{ id: 1 }],
      key: (r) => String(r.id),
      dependsOn: () => [],
      handler: async () => {},
    });
    // A job with dependsOn is shared, its runs and reruns (test/integration/rerun-worker-dependencies.test.ts): its source is not.
    await expect(runWorker(job, { ledger: PG_URL })).rejects.toThrow(ConfigError);
    await expect(runWorker(job, { ledger: PG_URL })).rejects.toThrow(/^source iterable cannot be shared by several workers/);
    await expect(runWorker(job, { ledger: PG_URL, rerun: {} })).rejects.toThrow(/^source iterable cannot be shared by several workers/);
    const plain = defineJob<{ id: number }>({ name: 'plain', source: [{ id: 1 }], key: (r) => String(r.id), handler: async () => {} });
    await expect(runWorker(plain, { ledger: PG_URL })).rejects.toThrow(
      'source iterable cannot be shared by several workers: it cannot start reading in the middle. Use jsonl(path) or csv(path) on storage every worker can read, or postgresTable(...)',
    );
  });
  it("shares a rerun of the selected failures only, each once; its thresholds are decided on the job's counts", async () => {
    const schema = freshSchema('bg_worker');
    const path = writeJsonl(tempDir(), 'in.jsonl', 2000);
    let phase: 'first' | 'rerun' = 'first';
    const calls: number[] = [];
    const job = defineJob<{ id: number }>({
      name: 'shared-rerun',
      source: jsonl(path),
      key: (r) => String(r.id),
      retry: { maxAttempts: 1 },
      maxFailureRate: 1,
      handler: async (r) => {
        if (phase === 'rerun') calls.push(r.id);
        if (r.id % 100 === 7) throw new FatalError(`bad record ${r.id}`);
        // Exhausted the first time; on the rerun, one of them fails for good.
        if (r.id % 100 === 13 && (phase === 'first' || r.id === 13))
          throw new (phase === 'first' ? RetryableError : FatalError)(`upstream ${r.id}`);
      },
    });
    const options = { ledger: PG_URL, pgSchema: schema, recordsPerChunk: 400 };
    await Promise.all([0, 1].map(() => runWorker(job, options)));
    phase = 'rerun';
    // 20 failed `fatal`, 20 `exhausted`: the rerun selects the exhausted ones; 13 fails again.
    const rerun = { ...options, recordsPerChunk: 3, rerun: { kind: 'exhausted' as const }, maxFailures: 20 };
    const results = await Promise.all([0, 1].map(() => runWorker(job, rerun)));
    const exhausted = Array.from({ length: 20 }, (_, i) => i * 100 + 13);
    expect([...calls].sort((a, b) => a - b)).toEqual(exhausted);
    for (const result of results) {
      // 21 failed in the job, more than maxFailures 20 (the rerun's own records have 1 failure).
      expect(result).toMatchObject({
        status: 'threshold-exceeded',
        reason: '21 records failed, more than maxFailures 20',
        rerun: '--failed --kind exhausted',
        shared: { total: 20, succeeded: 19, failed: 1, chunksDone: 7 },
        warnings: [],
      });
    }
    expect(results.reduce((sum, r) => sum + r.records, 0)).toBe(20);

    calls.length = 0;
    const byKeys = await runWorker(job, { ...options, rerun: { keys: ['13', '7', 'nowhere'] }, maxFailures: 20 });
    // Both fail again: the job still has 21 failures.
    expect([...calls].sort((a, b) => a - b)).toEqual([7, 13]);
    expect(byKeys).toMatchObject({ status: 'threshold-exceeded', planned: true, shared: { total: 2, succeeded: 0, failed: 2 } });
    expect(byKeys.warnings).toEqual([
      '1 of the keys given are not among the failed records (they succeeded, were never processed, or are not in the source), left alone: nowhere',
    ]);
    const { ledger } = openLedger(PG_URL, { job: 'shared-rerun', pgSchema: schema });
    try {
      expect(await ledger.counts()).toMatchObject({ total: 2000, succeeded: 1979, failed: 21, pending: 0 });
      expect((await ledger.runs(1))[0]).toMatchObject({ runId: byKeys.runId, status: 'threshold-exceeded' });
    } finally {
      await ledger.close();
    }
  });
});
