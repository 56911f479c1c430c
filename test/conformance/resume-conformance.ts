/**
 * Conformance: what a run resumes from. The watermark, the finished records above it, a run that
 * died (begin without finish), and outcome writes that may be repeated without counting twice.
 */
import { expect, it } from 'vitest';
import { batch, collect, failedRow, type Harness, SHORT_LEASE, skippedRow, start, succeededRow } from './conformance-harness.js';

export function describeResumeConformance(harness: () => Harness): void {
  it('a new ledger resumes from nothing', async () => {
    const ledger = await harness().open();
    const resume = await ledger.begin(start('run-1'));
    expect(resume).toMatchObject({ finishedAbove: [], alreadyDone: 0 });
    expect(resume.watermark).toBeUndefined();
    expect(resume.crashedRunId).toBeUndefined();
    expect(resume.outputState).toBeUndefined();
    expect(resume.crashes.suspects.size).toBe(0);
    expect(await ledger.counts()).toEqual({ total: 0, succeeded: 0, failed: 0, skipped: 0, pending: 0, sourceExhausted: false });
  });

  it('resumes after a clean end from the watermark, with the finished records above it merged and the output state', async () => {
    const first = await harness().open();
    await first.begin(start('run-1'));
    await first.commit(
      batch('run-1', {
        succeeded: [
          { first: 0, last: 4 },
          { first: 6, last: 8 },
          { first: 12, last: 12 },
        ],
        rows: [failedRow(5, 'run-1'), failedRow(9, 'run-1'), skippedRow(14, 'run-1', ['key-9'])],
        watermark: { seq: 7, line: 8, offset: 700 },
        seen: 15,
        outputState: { bytes: 1234, id: 'out-1' },
      }),
    );
    await first.finish('run-1', 'interrupted', {});
    await first.close();

    const second = await harness().open();
    const resume = await second.begin(start('run-2'));
    expect(resume.crashedRunId).toBeUndefined();
    expect(resume.watermark).toEqual({ seq: 7, line: 8, offset: 700 });
    expect(resume.finishedAbove).toEqual([
      { first: 6, last: 9 },
      { first: 12, last: 12 },
      { first: 14, last: 14 },
    ]);
    expect(resume.alreadyDone).toBe(12);
    expect(resume.outputState).toEqual({ bytes: 1234, id: 'out-1' });
  });

  it('resumes after a run that died (begun, never finished): names it, marks it crashed, and keeps what it committed', async () => {
    const dying = await harness().open(SHORT_LEASE);
    await dying.begin(start('dead-run'));
    await dying.commit(batch('dead-run', { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10, line: 11, offset: 1000 }, seen: 12 }));
    // Closing without finish is a death: the lease is neither renewed nor released.
    await dying.close();

    const next = await harness().open();
    const resume = await next.begin(start('next-run'));
    expect(resume.crashedRunId).toBe('dead-run');
    expect(resume.watermark).toEqual({ seq: 10, line: 11, offset: 1000 });
    expect(resume.finishedAbove).toEqual([]);
    expect(resume.alreadyDone).toBe(10);
    expect((await next.runs(10)).map((r) => [r.runId, r.status])).toEqual([
      ['next-run', 'running'],
      ['dead-run', 'crashed'],
    ]);
    expect(await next.counts()).toEqual({ total: 12, succeeded: 10, failed: 0, skipped: 0, pending: 2, sourceExhausted: false });
    await next.finish('next-run', 'completed', {});
    expect((await next.begin(start('third-run'))).crashedRunId).toBeUndefined();
  });

  it('keeps the watermark when a commit carries none (a re-run), and moves it with each commit that does', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 2 }], watermark: { seq: 3, line: 4, offset: 30 }, seen: 4 }));
    await ledger.commit(batch('run-1', { rows: [failedRow(3, 'run-1')], watermark: { seq: 4, line: 5, offset: 40 }, seen: 5 }));
    expect((await ledger.inspect()).watermark).toEqual({ seq: 4, line: 5, offset: 40 });
    await ledger.commit(batch('run-1', { rows: [succeededRow(3, 'run-1')], watermark: undefined, seen: 5 }));
    const resume = await ledger.inspect();
    expect(resume.watermark).toEqual({ seq: 4, line: 5, offset: 40 });
    expect(resume.alreadyDone).toBe(4);
  });

  it('inspect says where a run would resume without taking the ledger', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 4 }], watermark: { seq: 5 }, seen: 5, exhausted: true }));
    await ledger.finish('run-1', 'completed', {});
    const reader = await harness().open();
    const resume = await reader.inspect();
    expect(resume).toMatchObject({ watermark: { seq: 5 }, alreadyDone: 5, finishedAbove: [] });
    expect(resume.crashedRunId).toBeUndefined();
    expect(await reader.holder()).toBeUndefined();
    expect((await reader.runs(10)).map((r) => r.runId)).toEqual(['run-1']);
  });

  it('writing the same batch twice records each outcome once', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    const first = batch('run-1', {
      succeeded: [{ first: 0, last: 9 }],
      rows: [failedRow(10, 'run-1')],
      watermark: { seq: 11 },
      seen: 11,
    });
    const second = batch('run-1', {
      succeeded: [{ first: 11, last: 19 }],
      rows: [skippedRow(20, 'run-1', ['key-10'])],
      watermark: { seq: 21 },
      seen: 21,
    });
    for (const write of [first, first, second, second]) await ledger.commit(write);
    expect(await ledger.counts()).toEqual({ total: 21, succeeded: 19, failed: 1, skipped: 1, pending: 0, sourceExhausted: false });
    expect(await collect(ledger.succeededRanges())).toEqual([
      { first: 0, last: 9 },
      { first: 11, last: 19 },
    ]);
    expect((await collect(ledger.rows({ statuses: ['failed', 'skipped'] }))).map((r) => [r.seq, r.status])).toEqual([
      [10, 'failed'],
      [20, 'skipped'],
    ]);
  });

  it('a range overlapping stored ranges of other runs stores what is new and loses none of them', async () => {
    for (const [runId, first, last] of [
      ['run-1', 0, 10],
      ['run-2', 11, 30],
      ['run-3', 5, 15], // within run-1's and run-2's ranges, ending inside run-2's
      ['run-4', 25, 40], // from inside run-2's range to new records
    ] as const) {
      const ledger = await harness().open();
      await ledger.begin(start(runId));
      await ledger.commit(batch(runId, { succeeded: [{ first, last }], seen: 50 }));
      await ledger.finish(runId, 'completed', {});
    }
    const reader = await harness().open();
    expect(await reader.counts()).toMatchObject({ total: 50, succeeded: 41, pending: 9 });
    const ranges = await collect(reader.succeededRanges());
    expect(ranges.reduce((sum, range) => sum + range.last - range.first + 1, 0)).toBe(41);
  });

  it('a later outcome of a record replaces its row: one row per record, holding its latest state', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(batch('run-1', { rows: [failedRow(3, 'run-1', { fingerprint: 'fp-old' })], seen: 4 }));
    await ledger.commit(batch('run-1', { rows: [skippedRow(3, 'run-1', ['key-1'])], seen: 4 }));
    const rows = await collect(ledger.rows({ statuses: ['failed', 'skipped', 'succeeded'] }));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ seq: 3, key: 'key-3', status: 'skipped', attempts: 0, blockedBy: ['key-1'] });
    expect(rows[0]?.error).toBeUndefined();
    expect(rows[0]?.fingerprint).toBeUndefined();
    expect(await ledger.counts()).toEqual({ total: 4, succeeded: 0, failed: 0, skipped: 1, pending: 3, sourceExhausted: false });
    await ledger.commit(batch('run-1', { rows: [succeededRow(3, 'run-1', 2)], seen: 4 }));
    expect(await ledger.counts()).toEqual({ total: 4, succeeded: 1, failed: 0, skipped: 0, pending: 3, sourceExhausted: false });
    expect(await collect(ledger.rows({ statuses: ['failed', 'skipped', 'succeeded'] }))).toMatchObject([
      { seq: 3, status: 'succeeded', attempts: 2 },
    ]);
  });

  it('keeps exact counts: total = succeeded + failed + skipped + pending, across runs and handles', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(
      batch('run-1', {
        succeeded: [{ first: 0, last: 9 }],
        rows: [failedRow(10, 'run-1'), failedRow(11, 'run-1'), skippedRow(12, 'run-1', ['key-11'])],
        watermark: { seq: 13 },
        seen: 15,
      }),
    );
    expect(await ledger.counts()).toEqual({ total: 15, succeeded: 10, failed: 2, skipped: 1, pending: 2, sourceExhausted: false });
    await ledger.finish('run-1', 'interrupted', {});
    const other = await harness().open();
    await other.begin(start('run-2'));
    await other.commit(batch('run-2', { succeeded: [{ first: 13, last: 14 }], watermark: { seq: 15 }, seen: 15, exhausted: true }));
    await other.finish('run-2', 'completed', {});
    const counts = await ledger.counts();
    expect(counts).toEqual({ total: 15, succeeded: 12, failed: 2, skipped: 1, pending: 0, sourceExhausted: true });
    expect(counts.total).toBe(counts.succeeded + counts.failed + counts.skipped + counts.pending);
    // A smaller `seen` never shrinks the total.
    await other.begin(start('run-3'));
    await other.commit(batch('run-3', { seen: 3 }));
    expect((await other.counts()).total).toBe(15);
  });
}
