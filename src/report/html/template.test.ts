import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../ledger/ledger.js';
import { renderHtmlReport } from './template.js';

function runRecord(runId: string, startedAt: string, summary: unknown): RunRecord {
  return { runId, startedAt, endedAt: startedAt, status: 'completed', pid: 1, host: 'h', summary };
}

describe('renderHtmlReport', () => {
  it("charts the runs it is given and shows this run's regressions, escaped", () => {
    const figures = { thisRun: { succeeded: 40, failed: 0, skipped: 0 }, elapsedMs: 2000, recordsPerSecond: 20 };
    const regression = { kind: 'throughput', message: 'this run is markedly slower than the previous 2 runs: <b>20</b> records/s' };
    const current = runRecord('r3', '2026-11-30T10:02:00.000Z', { ...figures, regressions: [regression] });
    const page = renderHtmlReport({
      job: 'nightly',
      run: current,
      counts: { total: 120, succeeded: 120, failed: 0, skipped: 0, pending: 0, sourceExhausted: true },
      groups: [],
      timeline: [],
      history: [
        current,
        runRecord('r2', '2026-11-30T10:01:00.000Z', { ...figures, recordsPerSecond: 40 }),
        runRecord('r1', '2026-11-30T10:00:00.000Z', undefined),
      ],
      generatedAt: '2026-11-30T10:03:00.000Z',
    });
    expect(page).toContain(
      '<p class="regression">this run is markedly slower than the previous 2 runs: &lt;b&gt;20&lt;/b&gt; records/s</p>',
    );
    expect([...page.matchAll(/<g class="history-run[^"]*" data-run-id="(\w+)"/g)].map((m) => m[1])).toEqual(['r2', 'r3']);
    expect(page).toContain('1 run without a summary (running, or crashed) is not shown.');
  });
});
