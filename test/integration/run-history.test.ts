/**
 * History across runs: after three runs of a job, the third twice as slow as the first two, its
 * summary warns of the regression and lists it in `regressions`; a run as fast as the others does not.
 */
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { findRegressions, runFigures, type RunFigures } from '../../src/report/run-history.js';
import { ManualClock, memoryLedger } from '../../src/testing/index.js';
import { drive } from '../helpers/drive.js';

/** Runs a job three times over 50 new records each time; each record takes `msPerRecord[run]` of manual time. */
async function threeRuns(msPerRecord: [number, number, number], failEvery = [0, 0, 0]) {
  const clock = new ManualClock();
  const ledger = memoryLedger();
  const records: { id: number }[] = [];
  let run = 0;
  const job = defineJob<{ id: number }>({
    name: 'history',
    source: () => records,
    key: (r) => String(r.id),
    concurrency: 1,
    retry: { maxAttempts: 1 },
    maxFailureRate: 1,
    handler: async (r) => {
      await clock.sleep(msPerRecord[run] as number);
      const every = failEvery[run] as number;
      if (every > 0 && r.id % every === 0) throw new Error('rejected');
    },
  });
  const summaries = [];
  try {
    for (run = 0; run < 3; run++) {
      for (let i = 0; i < 50; i++) records.push({ id: records.length });
      summaries.push(await drive(runJob(job, { ledger, clock }), clock, 10));
    }
    return { summaries, runs: await ledger.runs(10) };
  } finally {
    await ledger.close();
  }
}

describe('run history', () => {
  it('warns when the third run is twice as slow as the two before it', async () => {
    const { summaries, runs } = await threeRuns([20, 20, 40]);
    expect(summaries.map((s) => s.thisRun.succeeded)).toEqual([50, 50, 50]);
    expect(summaries[0]?.warnings).toEqual([]);
    expect(summaries[1]?.warnings).toEqual([]);
    expect(summaries[2]?.warnings).toEqual([
      'this run is markedly slower than the previous 2 runs: 25 records/s against a median of 50 (2.0× slower); see batchguard runs',
    ]);
    expect(summaries[2]?.regressions).toEqual([
      {
        kind: 'throughput',
        thisRun: 25,
        median: 50,
        comparedRuns: 2,
        message: 'this run is markedly slower than the previous 2 runs: 25 records/s against a median of 50 (2.0× slower)',
      },
    ]);
    expect(summaries[1]).not.toHaveProperty('regressions');
    const figures = runs.map(runFigures);
    expect(figures.map((f) => f && [f.records, f.failed, f.elapsedMs, f.recordsPerSecond])).toEqual([
      [50, 0, 2000, 25],
      [50, 0, 1000, 50],
      [50, 0, 1000, 50],
    ]);
  });

  it('stays quiet when the runs are alike, and warns when one fails markedly more', async () => {
    const alike = await threeRuns([20, 20, 22]);
    expect(alike.summaries[2]?.warnings).toEqual([]);
    const failing = await threeRuns([20, 20, 20], [0, 0, 5]);
    expect(failing.summaries[2]?.warnings).toEqual([
      'this run fails markedly more than the previous 2 runs: 20.0% of its records failed against a median of 0.0%; see batchguard runs',
    ]);
  });

  it('compares only runs long enough to say anything', () => {
    const run = (runId: string, records: number, recordsPerSecond: number): RunFigures => ({
      runId,
      startedAt: '',
      status: 'completed',
      records,
      failed: 0,
      failureRate: 0,
      elapsedMs: 1,
      recordsPerSecond,
    });
    // A resume of 5 records, or a single earlier run, is no baseline.
    expect(findRegressions(run('c', 100, 10), [run('b', 5, 100), run('a', 100, 100)])).toEqual([]);
    expect(findRegressions(run('c', 10, 10), [run('b', 100, 100), run('a', 100, 100)])).toEqual([]);
    expect(findRegressions(run('c', 100, 10), [run('b', 100, 100), run('a', 100, 100)])).toHaveLength(1);
  });
});
