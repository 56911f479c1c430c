import { describe, expect, it } from 'vitest';
import type { RunFigures } from '../run-history.js';
import { renderHistoryChart } from './history-chart.js';

function run(runId: string, recordsPerSecond: number, failed: number): RunFigures {
  return {
    runId,
    startedAt: '2026-11-30T13:40:12.000Z',
    status: 'completed',
    records: 100,
    failed,
    skipped: 0,
    failureRate: failed / 100,
    elapsedMs: 1000,
    recordsPerSecond,
  };
}

describe('renderHistoryChart', () => {
  it('draws one bar and one point per run, oldest first, to scale, with the current run marked', () => {
    const svg = renderHistoryChart([run('c', 50, 10), run('b', 100, 0), run('a', 25, 5)], 'c', 0);
    expect([...svg.matchAll(/data-run-id="(\w)"/g)].map((m) => m[1])).toEqual(['a', 'b', 'c']);
    const heights = [...svg.matchAll(/<rect class="throughput" [^>]*height="([\d.]+)"/g)].map((m) => Number(m[1]));
    // 100/s is the axis maximum: the bars are a quarter, all, and half of the plot's height.
    expect(heights.map((h) => h / (heights[1] as number))).toEqual([0.25, 1, 0.5]);
    expect(svg.match(/<circle class="failure-rate"/g)).toHaveLength(3);
    expect(svg).toContain('<g class="history-run current" data-run-id="c"');
    expect(svg).toContain('>11-30 13:40 c</text>');
    expect(svg).toContain(
      '<title>run c, started 2026-11-30T13:40:12.000Z, completed: 50 records/s, 10.0% failed (10 of 100 records)</title>',
    );
  });

  it("gives a run's failure rate over the records that ran, and its skipped records apart", () => {
    const svg = renderHistoryChart([{ ...run('s', 10, 1), records: 20, skipped: 2, failureRate: 1 / 18 }], 's', 0);
    expect(svg).toContain('completed: 10 records/s, 5.6% failed (1 of 18 records; 2 more skipped)</title>');
  });

  it('escapes what it takes from the ledger, and says what it leaves out', () => {
    const svg = renderHistoryChart([{ ...run('<script>x</script>', 10, 0), status: '"><img src=x>' }], 'other', 2);
    expect(svg).not.toContain('<script>');
    expect(svg).not.toContain('<img');
    expect(svg).toContain('data-run-id="&lt;script&gt;x&lt;/script&gt;"');
    expect(svg).toContain('2 runs without a summary (running, or crashed) are not shown.');
    expect(renderHistoryChart([], 'x', 1)).toBe(
      '<p class="empty">No run of this job ended with a summary yet, so there is no history to chart. 1 run without a summary (running, or crashed) is not shown.</p>',
    );
  });
});
