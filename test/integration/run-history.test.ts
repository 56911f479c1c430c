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
      'this run fails markedly more than the previous 2 runs: 20.0% of its records that ran failed against a median of 0.0%; see batchguard runs',
    ]);
  });

  it('compares only runs long enough to say anything', () => {
    const run = (runId: string, records: number, recordsPerSecond: number): RunFigures => ({
      runId,
      startedAt: '',
      status: 'completed',
      records,
      failed: 0,
      skipped: 0,
      failureRate: 0,
      elapsedMs: 1,
      recordsPerSecond,
    });
    // A resume of 5 records, or a single earlier run, is no baseline.
    expect(findRegressions(run('c', 100, 10), [run('b', 5, 100), run('a', 100, 100)])).toEqual([]);
    expect(findRegressions(run('c', 10, 10), [run('b', 100, 100), run('a', 100, 100)])).toEqual([]);
    expect(findRegressions(run('c', 100, 10), [run('b', 100, 100), run('a', 100, 100)])).toHaveLength(1);
  });

  it("gives a run's failure rate as its summary and the thresholds do: failed records over those that ran, skipped ones apart", async () => {
    // A failed parent skips its two children: 1 failed of 18 that ran (5.56%), not 1 of 20 (5.0%),
    // which read as within a maxFailureRate of 5% for a run that exceeded it.
    const ledger = memoryLedger();
    const records = Array.from({ length: 20 }, (_, id) => ({ id, parent: id === 3 || id === 4 ? id - 1 : undefined }));
    const job = defineJob<{ id: number; parent: number | undefined }>({
      name: 'history-skips',
      source: () => records,
      key: (r) => String(r.id),
      dependsOn: (r) => (r.parent === undefined ? [] : [String(r.parent)]),
      retry: { maxAttempts: 1 },
      handler: async (r) => {
        if (r.id === 2) throw new Error('rejected');
      },
    });
    try {
      const summary = await runJob(job, { ledger });
      expect([summary.status, summary.failed, summary.skipped, summary.failureRate]).toEqual(['threshold-exceeded', 1, 2, 0.055556]);
      const [run] = await ledger.runs(1);
      const figures = runFigures(run!);
      expect(figures).toMatchObject({ records: 20, failed: 1, skipped: 2 });
      expect(figures?.failureRate).toBeCloseTo(1 / 18, 6);
    } finally {
      await ledger.close();
    }
  });

  it("gives a shared run's figures from its workers' outcomes and its start and end", () => {
    const shared = { status: 'completed', total: 100, succeeded: 85, failed: 10, skipped: 5, chunksDone: 4 };
    const row = {
      runId: 's',
      startedAt: '2026-12-02T08:00:00.000Z',
      endedAt: '2026-12-02T08:00:10.000Z',
      status: 'completed',
      pid: 1,
      host: 'h',
      summary: { status: 'completed', reason: 'every record has an outcome', shared },
    };
    expect(runFigures(row)).toEqual({
      runId: 's',
      startedAt: row.startedAt,
      status: 'completed',
      records: 100,
      failed: 10,
      skipped: 5,
      failureRate: 10 / 95,
      elapsedMs: 10_000,
      recordsPerSecond: 10,
      shared: true,
    });
    // Not ended: no figures yet.
    expect(runFigures({ ...row, endedAt: undefined })).toBeUndefined();
  });

  it("compares a single run with single runs only: shared runs go at their workers' pace together", async () => {
    const ledger = memoryLedger();
    const runs = ledger.runs.bind(ledger);
    // Two earlier shared runs, 100 times as fast as this one will be.
    const sharedRun = (runId: string) => ({
      runId,
      startedAt: '2026-12-01T08:00:00.000Z',
      endedAt: '2026-12-01T08:00:01.000Z',
      status: 'completed',
      pid: 1,
      host: 'h',
      summary: { status: 'completed', shared: { succeeded: 5000, failed: 0, skipped: 0 } },
    });
    ledger.runs = async (limit) => [...(await runs(limit)), sharedRun('shared-1'), sharedRun('shared-2')];
    const clock = new ManualClock();
    const job = defineJob<{ id: number }>({
      name: 'history-shared',
      source: () => Array.from({ length: 50 }, (_, id) => ({ id })),
      key: (r) => String(r.id),
      concurrency: 1,
      handler: () => clock.sleep(20),
    });
    try {
      const summary = await drive(runJob(job, { ledger, clock }), clock, 10);
      expect(summary.thisRun.succeeded).toBe(50);
      expect(summary.warnings).toEqual([]);
    } finally {
      await ledger.close();
    }
  });
});
