import { describe, expect, it } from 'vitest';
import type { WorkerSummary } from '../distributed/run-worker.js';
import { describeWorker } from './worker-command.js';

function summary(records: number, chunksDone: number, selected: number): WorkerSummary {
  const shared = {
    status: 'completed',
    abortReason: undefined,
    breaker: 'closed',
    breakerOpenMs: 0,
    breakerReason: undefined,
    probeOwner: undefined,
  };
  const counts = { total: selected, succeeded: selected, failed: 0, skipped: 0 };
  return {
    job: 'j',
    runId: 'r',
    status: 'completed',
    ...counts,
    pending: 0,
    failureRate: 0,
    worker: 'w',
    host: 'h',
    planned: false,
    chunksDone,
    chunksTakenOver: 0,
    chunksLost: 0,
    records,
    shared: { ...shared, ...counts, chunksOpen: 0, chunksLeased: 0, chunksDone },
    abortReason: undefined,
    reason: 'every record succeeded',
    rerun: '--failed',
    warnings: [],
  } as WorkerSummary;
}

describe("a worker's closing lines", () => {
  it('count records and chunks in the singular for one', () => {
    const text = describeWorker(summary(1, 1, 1));
    expect(text).toContain('re-running      --failed: 1 selected record\n');
    expect(text).toContain('this worker     1 record, 1 chunk (0 taken over, 0 lost)');
  });

  it('and in the plural for more', () => {
    const text = describeWorker(summary(31, 2, 31));
    expect(text).toContain('re-running      --failed: 31 selected records\n');
    expect(text).toContain('this worker     31 records, 2 chunks (0 taken over, 0 lost)');
  });

  it('prints its warnings, which may quote keys from a file, without their escape sequences', () => {
    const text = describeWorker({
      ...summary(1, 1, 1),
      warnings: ['1 of the keys given are not among the failed records, left alone: \u001b[2Jx'],
    });
    expect(text).toContain('  warning: 1 of the keys given are not among the failed records, left alone: \\e[2Jx');
    expect(text.includes('\u001b')).toBe(false);
  });
});
