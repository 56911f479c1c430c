/**
 * Conformance: what the ledger remembers of runs (their status, summary and timeline of commits),
 * and the refusal of a ledger written by a newer batchguard.
 */
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { batch, type ConformanceHooks, failedRow, type Harness, skippedRow, start } from './conformance-harness.js';

export function describeHistoryConformance(harness: () => Harness, hooks: ConformanceHooks): void {
  it('lists runs newest first with their status, pid, host, end and summary', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.finish('run-1', 'completed', { succeeded: 1 });
    await ledger.begin(start('run-2'));
    await ledger.finish('run-2', 'interrupted', { succeeded: 2, topErrors: [{ fingerprint: 'fp', count: 1 }] });
    await ledger.begin(start('run-3'));
    const runs = await (await harness().open()).runs(10);
    expect(runs.map((r) => [r.runId, r.status, r.pid, r.host, r.summary])).toEqual([
      ['run-3', 'running', process.pid, hostname(), undefined],
      ['run-2', 'interrupted', process.pid, hostname(), { succeeded: 2, topErrors: [{ fingerprint: 'fp', count: 1 }] }],
      ['run-1', 'completed', process.pid, hostname(), { succeeded: 1 }],
    ]);
    expect(runs[0]?.endedAt).toBeUndefined();
    for (const run of runs.slice(1)) expect(Date.parse(run.endedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(run.startedAt));
    expect((await ledger.runs(2)).map((r) => r.runId)).toEqual(['run-3', 'run-2']);
  });

  it('keeps a timeline per run: one point per commit that gave outcomes, in order', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(
      batch('run-1', {
        succeeded: [{ first: 0, last: 9 }],
        rows: [failedRow(10, 'run-1'), skippedRow(11, 'run-1', ['key-10'])],
        seen: 12,
      }),
    );
    // A commit with no outcome (a watermark or output state only) is no point.
    await ledger.commit(batch('run-1', { seen: 12 }));
    await ledger.commit(batch('run-1', { rows: [failedRow(12, 'run-1')], seen: 13 }));
    await ledger.finish('run-1', 'interrupted', {});
    await ledger.begin(start('run-2'));
    await ledger.commit(batch('run-2', { succeeded: [{ first: 13, last: 14 }], seen: 15 }));
    const first = await ledger.timeline('run-1');
    expect(first.map(({ done, failed }) => ({ done, failed }))).toEqual([
      { done: 12, failed: 1 },
      { done: 1, failed: 1 },
    ]);
    expect(Date.parse(first[0]?.at ?? '')).toBeLessThanOrEqual(Date.parse(first[1]?.at ?? ''));
    expect((await ledger.timeline('run-2')).map(({ done, failed }) => ({ done, failed }))).toEqual([{ done: 2, failed: 0 }]);
    expect(await ledger.timeline('no-such-run')).toEqual([]);
  });

  it('refuses a ledger written by a newer batchguard (an unknown schema version), saying which and what to do', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 4 }], watermark: { seq: 5 }, seen: 5 }));
    await ledger.finish('run-1', 'completed', {});
    const location = ledger.location;
    await harness().closeAll();
    await hooks.writeFutureSchema();
    let refused: unknown;
    try {
      // A backend may refuse on open or on first use; either way before anything is read or written.
      const reopened = await harness().open();
      await reopened.inspect();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(LedgerError);
    expect((refused as LedgerError).code).toBe('LEDGER_UNUSABLE');
    const message = (refused as LedgerError).message;
    expect(message).toContain(location);
    expect(message).toMatch(/schema \d+/);
    expect(message).toContain('newer batchguard');
    expect(message).toContain('upgrade batchguard');
  });
}
