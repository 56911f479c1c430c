/**
 * Conformance: what the ledger keeps of failures (the whole error, every attempt), which rows a
 * failure report or a re-run selects, the state of records blocked by a failed dependency, and the
 * summary's failure groups.
 */
import { expect, it } from 'vitest';
import type { RecordRow } from '../../src/ledger/ledger.js';
import { batch, collect, failedRow, type Harness, skippedRow, start, succeededRow } from './conformance-harness.js';

export function describeFailuresConformance(harness: () => Harness): void {
  it('keeps a failure whole: the error with its cause chain, the kind, the rule, the position and every attempt', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    const failure: RecordRow = {
      seq: 7,
      key: 'order-7',
      status: 'failed',
      kind: 'timeout',
      attempts: 3,
      error: {
        name: 'TimeoutError',
        message: 'attempt 3 timed out after 500 ms',
        code: 'ETIMEDOUT',
        stack: 'TimeoutError: attempt 3 timed out\n    at handler (job.ts:12:5)',
        cause: { name: 'Error', message: 'socket hang up', code: 'ECONNRESET' },
      },
      fingerprint: 'fp-timeout',
      template: 'attempt <n> timed out after <n> ms',
      rule: 'timeout',
      history: [
        { attempt: 1, durationMs: 501, error: { name: 'TimeoutError', message: 'attempt 1 timed out' }, delayMs: 200 },
        { attempt: 2, durationMs: 502, error: { name: 'TimeoutError', message: 'attempt 2 timed out' }, delayMs: 400 },
        { attempt: 3, durationMs: 503, error: { name: 'TimeoutError', message: 'attempt 3 timed out after 500 ms' } },
      ],
      runId: 'run-1',
      line: 8,
      offset: 700,
      updatedAt: '2026-01-01T12:00:00.000Z',
    };
    await ledger.commit(batch('run-1', { rows: [failure], seen: 8 }));
    await ledger.finish('run-1', 'completed', {});
    const reader = await harness().open();
    expect(await collect(reader.rows({ statuses: ['failed'] }))).toEqual([failure]);
  });

  it('selects rows for a report or a re-run by status, fingerprint, kind, run and key, every field narrowing, in source order', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(
      batch('run-1', {
        // Out of source order on purpose: rows come back ordered by seq.
        rows: [
          failedRow(9, 'run-1', { fingerprint: 'fp-b', kind: 'fatal' }),
          failedRow(2, 'run-1', { fingerprint: 'fp-a', kind: 'exhausted' }),
          skippedRow(5, 'run-1', ['key-2']),
          failedRow(4, 'run-1', { fingerprint: 'fp-a', kind: 'timeout' }),
        ],
        seen: 10,
      }),
    );
    await ledger.finish('run-1', 'completed', {});
    await ledger.begin(start('run-2'));
    await ledger.commit(
      batch('run-2', { rows: [failedRow(6, 'run-2', { fingerprint: 'fp-a', kind: 'exhausted' }), succeededRow(9, 'run-2')], seen: 10 }),
    );
    const seqs = async (filter: Parameters<typeof ledger.rows>[0]): Promise<number[]> =>
      (await collect(ledger.rows(filter))).map((r) => r.seq);
    expect(await seqs({ statuses: ['failed'] })).toEqual([2, 4, 6]);
    expect(await seqs({ statuses: ['failed', 'skipped'] })).toEqual([2, 4, 5, 6]);
    expect(await seqs({ statuses: ['skipped'] })).toEqual([5]);
    expect(await seqs({ statuses: ['succeeded'] })).toEqual([9]);
    expect(await seqs({ statuses: ['failed'], fingerprint: 'fp-a' })).toEqual([2, 4, 6]);
    expect(await seqs({ statuses: ['failed'], fingerprint: 'fp-b' })).toEqual([]);
    expect(await seqs({ statuses: ['failed'], kind: 'exhausted' })).toEqual([2, 6]);
    expect(await seqs({ statuses: ['failed'], runId: 'run-1' })).toEqual([2, 4]);
    expect(await seqs({ statuses: ['failed'], runId: 'run-2', kind: 'exhausted', fingerprint: 'fp-a' })).toEqual([6]);
    expect(await seqs({ statuses: ['failed'], runId: 'run-2', kind: 'timeout' })).toEqual([]);
    expect(await seqs({ statuses: ['failed', 'skipped'], key: 'key-5' })).toEqual([5]);
    expect(await seqs({ statuses: ['failed'], key: 'key-5' })).toEqual([]);
    expect(await seqs({ statuses: ['failed'], key: 'no-such-key' })).toEqual([]);
    expect(await seqs({ statuses: ['failed', 'skipped'], seqs: { first: 3, last: 5 } })).toEqual([4, 5]);
    expect(await seqs({ statuses: ['failed'], seqs: { first: 6, last: 6 }, runId: 'run-2' })).toEqual([6]);
  });

  it('keeps a skipped record with the failed ancestors that blocked it, until a re-run succeeds', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(
      batch('run-1', {
        succeeded: [{ first: 0, last: 0 }],
        rows: [failedRow(1, 'run-1'), skippedRow(2, 'run-1', ['key-1']), skippedRow(3, 'run-1', ['key-2', 'key-1'])],
        watermark: { seq: 4 },
        seen: 4,
        exhausted: true,
      }),
    );
    await ledger.finish('run-1', 'completed', {});
    expect((await collect(ledger.rows({ statuses: ['skipped'] }))).map((r) => [r.key, r.blockedBy])).toEqual([
      ['key-2', ['key-1']],
      ['key-3', ['key-2', 'key-1']],
    ]);
    expect(await ledger.counts()).toMatchObject({ succeeded: 1, failed: 1, skipped: 2, pending: 0 });

    // The re-run: the parent succeeds, then the records it blocked.
    await ledger.begin(start('rerun'));
    await ledger.commit(batch('rerun', { rows: [succeededRow(1, 'rerun', 2)], seen: 4 }));
    expect(await ledger.counts()).toMatchObject({ succeeded: 2, failed: 0, skipped: 2 });
    await ledger.commit(batch('rerun', { rows: [succeededRow(2, 'rerun'), succeededRow(3, 'rerun')], seen: 4 }));
    expect(await collect(ledger.rows({ statuses: ['failed', 'skipped'] }))).toEqual([]);
    expect(await ledger.counts()).toEqual({ total: 4, succeeded: 4, failed: 0, skipped: 0, pending: 0, sourceExhausted: true });
    const after = await collect(ledger.rows({ statuses: ['succeeded'] }));
    expect(after.map((r) => [r.key, r.runId, r.blockedBy])).toEqual([
      ['key-1', 'rerun', undefined],
      ['key-2', 'rerun', undefined],
      ['key-3', 'rerun', undefined],
    ]);
  });

  it('groups failures for the summary: most frequent first, samples in source order, templates beneath', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    const http = (seq: number, template: string): RecordRow =>
      failedRow(seq, 'run-1', {
        fingerprint: 'fp-http',
        template,
        kind: 'exhausted',
        rule: 'http-status-503',
        error: { name: 'HttpError', message: `status 503 at ${seq}`, code: 'E503' },
      });
    const type = (seq: number, template: string): RecordRow =>
      failedRow(seq, 'run-1', {
        fingerprint: 'fp-type',
        template,
        kind: 'fatal',
        rule: 'programming-TypeError',
        error: { name: 'TypeError', message: template },
      });
    await ledger.commit(
      batch('run-1', {
        rows: [
          http(8, 'status <n> at <n>'),
          http(2, 'status <n> at <n>'),
          http(5, 'upstream <n>'),
          http(9, 'status <n> at <n>'),
          type(1, 'x is undefined'),
          type(6, 'y is undefined'),
          skippedRow(3, 'run-1', ['key-2']),
          failedRow(4, 'run-1', { fingerprint: 'fp-range', template: 'too big', error: { name: 'RangeError', message: 'too big' } }),
        ],
        seen: 10,
      }),
    );
    expect(await ledger.topErrors(5, 3)).toEqual([
      {
        fingerprint: 'fp-http',
        name: 'HttpError',
        message: 'status 503 at 2',
        code: 'E503',
        kind: 'exhausted',
        rule: 'http-status-503',
        count: 4,
        sampleKeys: ['key-2', 'key-5', 'key-8'],
        templates: [
          { template: 'status <n> at <n>', count: 3, sampleKeys: ['key-2', 'key-8', 'key-9'] },
          { template: 'upstream <n>', count: 1, sampleKeys: ['key-5'] },
        ],
      },
      {
        fingerprint: 'fp-type',
        name: 'TypeError',
        message: 'x is undefined',
        kind: 'fatal',
        rule: 'programming-TypeError',
        count: 2,
        sampleKeys: ['key-1', 'key-6'],
        templates: [
          { template: 'x is undefined', count: 1, sampleKeys: ['key-1'] },
          { template: 'y is undefined', count: 1, sampleKeys: ['key-6'] },
        ],
      },
      {
        fingerprint: 'fp-range',
        name: 'RangeError',
        message: 'too big',
        kind: 'exhausted',
        rule: 'default',
        count: 1,
        sampleKeys: ['key-4'],
        templates: [{ template: 'too big', count: 1, sampleKeys: ['key-4'] }],
      },
    ]);
    expect((await ledger.topErrors(1, 1)).map((g) => [g.fingerprint, g.sampleKeys])).toEqual([['fp-http', ['key-2']]]);
    expect(await (await harness().open()).topErrors(5, 3)).toHaveLength(3);
  });

  it('has no failure groups while nothing failed', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 9 }], rows: [skippedRow(10, 'run-1', ['x'])], seen: 11 }));
    expect(await ledger.topErrors(5, 3)).toEqual([]);
  });
}
