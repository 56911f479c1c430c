/**
 * The report's chart of the job's recent runs side by side, oldest on the left: each run's
 * throughput (records per second, a bar on the left axis) and failure rate (a point on the right
 * axis), labelled with its start time and the start of its id. The figures are the ones `batchguard
 * runs` lists (run-history.ts), so the chart and the command never disagree. Plain SVG, no script.
 */
import type { RunFigures } from '../run-history.js';
import { percent } from '../../policy/percent.js';
import { chartAxes, fixed, formatNumber, niceMax } from './chart-scale.js';
import { html } from './escape.js';

const WIDTH = 720;
const HEIGHT = 270;
/** The bottom leaves room for the slanted run labels. */
const PAD = { left: 56, right: 56, top: 16, bottom: 90 };
/** The labels are slanted so that twenty runs fit side by side. */
const LABEL_ANGLE = -40;

/**
 * The chart of `runs` (newest first, as the ledger lists them; only runs that ended with a summary),
 * with `currentRunId`'s run highlighted; `left` runs without figures are counted in the legend.
 */
export function renderHistoryChart(runs: readonly RunFigures[], currentRunId: string, left: number): string {
  const unshown =
    left === 0
      ? ''
      : ` ${left} run${left === 1 ? '' : 's'} without a summary (running, or crashed) ${left === 1 ? 'is' : 'are'} not shown.`;
  if (runs.length === 0)
    return `<p class="empty">No run of this job ended with a summary yet, so there is no history to chart.${unshown}</p>`;
  const oldestFirst = [...runs].reverse();
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const baseY = PAD.top + plotH;
  const maxSpeed = niceMax(Math.max(...runs.map((r) => r.recordsPerSecond)));
  const maxPercent = niceMax(Math.max(...runs.map((r) => r.failureRate * 100)));
  const slot = plotW / oldestFirst.length;
  const x = (i: number): number => PAD.left + slot * (i + 0.5);
  const ySpeed = (v: number): number => (v / maxSpeed) * plotH;
  const yRate = (rate: number): number => baseY - ((rate * 100) / maxPercent) * plotH;
  const groups = oldestFirst.map((run, i) => {
    const height = ySpeed(run.recordsPerSecond);
    const barWidth = Math.min(40, slot * 0.6);
    const labelY = baseY + 14;
    const figures = `${formatNumber(run.recordsPerSecond)} records/s, ${percent(run.failureRate)} failed (${run.failed} of ${run.records - run.skipped} records${run.skipped > 0 ? `; ${run.skipped} more skipped` : ''})`;
    return `<g class="history-run${run.runId === currentRunId ? ' current' : ''}" data-run-id="${html(run.runId)}" data-records-per-second="${html(run.recordsPerSecond)}" data-failure-rate="${html(run.failureRate)}">
<title>run ${html(run.runId)}, started ${html(run.startedAt)}, ${html(run.status)}: ${html(figures)}</title>
<rect class="throughput" x="${fixed(x(i) - barWidth / 2)}" y="${fixed(baseY - height)}" width="${fixed(barWidth)}" height="${fixed(height)}"/>
<circle class="failure-rate" cx="${fixed(x(i))}" cy="${fixed(yRate(run.failureRate))}" r="4"/>
<text class="run-label" x="${fixed(x(i))}" y="${labelY}" text-anchor="end" transform="rotate(${LABEL_ANGLE} ${fixed(x(i))} ${labelY})">${html(label(run))}</text>
</g>`;
  });
  const line = oldestFirst.map((run, i) => `${fixed(x(i))},${fixed(yRate(run.failureRate))}`).join(' ');
  return `<svg class="chart history" role="img" aria-label="Throughput and failure rate of the recent runs" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}">
${chartAxes({ left: PAD.left, top: PAD.top, width: plotW, height: plotH, leftTop: `${formatNumber(maxSpeed)}/s`, rightTop: `${formatNumber(maxPercent)}%`, rightBottom: '0%' })}
${oldestFirst.length > 1 ? `<polyline class="failure-line" points="${line}"/>` : ''}
${groups.join('\n')}
</svg>
<p class="legend"><span class="key throughput-key"></span> records per second <span class="key failed-key"></span> share of the run's records that failed (right axis), for the ${runs.length} most recent run${runs.length === 1 ? '' : 's'}, oldest first, labelled with their start (UTC) and id; this run's bar is darker.${unshown}</p>`;
}

/** `11-30 13:40 0b0e5f2a`: the start to the minute and the id's first part, enough to tell runs apart. */
function label(run: RunFigures): string {
  return `${run.startedAt.slice(5, 16).replace('T', ' ')} ${run.runId.slice(0, 8)}`;
}
