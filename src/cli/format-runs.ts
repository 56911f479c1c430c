/**
 * Runs side by side, as `status` and `runs` print them: one line per run, newest first, with this
 * run's records, failures, failure rate, elapsed time and throughput.
 */
import type { RunFigures } from '../report/run-history.js';
import { formatCount } from './format-count.js';

/** A run as listed: its figures when it ended with a summary (a running or crashed run has none). */
export interface ListedRun {
  readonly runId: string;
  readonly startedAt: string;
  readonly status: string;
  readonly figures: RunFigures | undefined;
}

const HEADER = ['started', 'status', 'records', 'failed', 'rate', 'elapsed', 'records/s', 'run'];

/** The table's lines (header first), each indented by `indent`. */
export function formatRuns(runs: readonly ListedRun[], indent = ''): string[] {
  const rows = runs.map((run) => {
    const f = run.figures;
    return [
      run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      run.status,
      f ? formatCount(f.records) : '-',
      f ? formatCount(f.failed) : '-',
      f ? `${(f.failureRate * 100).toFixed(1)}%` : '-',
      f ? formatElapsed(f.elapsedMs) : '-',
      f ? formatCount(f.recordsPerSecond) : '-',
      run.runId,
    ];
  });
  const widths = HEADER.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  // Text columns left, figures right, the run id last and unpadded.
  const line = (cells: readonly string[]): string =>
    indent +
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : i < 2 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number)))
      .join('  ');
  return [line(HEADER), ...rows.map(line)];
}

function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
