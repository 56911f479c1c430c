/**
 * The tables of `npm run bench` (bench/compare/report.mjs): a cell timed several times (REPEATS)
 * shows its median run's records/s with the range of all its runs, and "Where and when" says how
 * many runs each cell had.
 */
import { expect, it } from 'vitest';

interface Report {
  renderTables(results: unknown): string;
  renderRuns(sizes: unknown): string;
}
const REPORT: string = '../../bench/compare/report.mjs';
const { renderTables, renderRuns } = (await import(REPORT)) as Report;

const RUN = '2026-12-02T01:00:00.000Z';
const cell = (elapsedMs: number, extra: object = {}) => ({
  status: 'ok',
  elapsedMs,
  recordsPerSecond: 100_000 / (elapsedMs / 1000),
  maxRssBytes: 64 * 2 ** 20,
  run: RUN,
  ...extra,
});
const sizes = {
  100000: {
    handlers: { noop: { bare: cell(250), 'batchguard-sqlite': cell(550, { runsMs: [500, 550, 600] }) } },
    runs: {
      [RUN]: {
        machine: { nproc: 2, cpu: 'cpu', memoryGiB: 24, node: 'v20', loadAverage: [1, 1, 1] },
        maxSeconds: 300,
        concurrency: 8,
        repeats: 3,
      },
    },
  },
};

it('shows the median run of a repeated cell with the range of its runs, and the ratio of the medians', () => {
  const tables = renderTables({ 100000: sizes[100000].handlers });
  const row = tables.split('\n').find((line) => line.includes('SQLite'));
  expect(row).toContain('| 181,818 (3 runs: 166,667–200,000) | 0.45× |');
  const bare = tables.split('\n').find((line) => line.startsWith('| bare'));
  expect(bare).toContain('| 400,000 | 1.00× |');
});

it('says how many timed runs each cell of a run had', () => {
  expect(renderRuns(sizes)).toContain('; 3 timed runs per cell, the median shown');
});
