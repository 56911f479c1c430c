/**
 * The report's chart of a run over time, drawn as inline SVG from the ledger's timeline (one point
 * per group commit): throughput (records per second) as a line and failures as bars, in up to
 * BUCKETS equal slices of the run. Plain SVG, no script: the file opens anywhere, offline.
 */
import type { TimelinePoint } from '../../ledger/ledger.js';
import { chartAxes, fixed, formatNumber, niceMax } from './chart-scale.js';
import { html } from './escape.js';

const BUCKETS = 60;
const WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 56, right: 56, top: 16, bottom: 36 };

/** One slice of the run: its start (ms from the run's start), records per second, failures. */
export interface ChartBucket {
  readonly startMs: number;
  readonly perSecond: number;
  readonly failed: number;
}

/** The timeline in equal slices from `startedAt` to its last commit. */
export function bucketTimeline(points: readonly TimelinePoint[], startedAt: string): ChartBucket[] {
  if (points.length === 0) return [];
  const start = Date.parse(startedAt);
  const times = points.map((p) => Math.max(0, Date.parse(p.at) - start));
  const span = Math.max(1000, ...times);
  const count = Math.min(BUCKETS, Math.max(1, points.length));
  const width = span / count;
  const done = new Array<number>(count).fill(0);
  const failed = new Array<number>(count).fill(0);
  points.forEach((point, i) => {
    const index = Math.min(count - 1, Math.floor(times[i]! / width));
    done[index]! += point.done;
    failed[index]! += point.failed;
  });
  return done.map((n, i) => ({ startMs: i * width, perSecond: n / (width / 1000), failed: failed[i]! }));
}

/** The chart as an `<svg>` element; a run without commits gets a sentence instead. */
export function renderChart(buckets: readonly ChartBucket[], spanMs: number): string {
  if (buckets.length === 0) return '<p class="empty">This run recorded no outcomes, so there is nothing to chart.</p>';
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const maxRate = niceMax(Math.max(...buckets.map((b) => b.perSecond)));
  const maxFailed = niceMax(Math.max(...buckets.map((b) => b.failed)));
  const slot = plotW / buckets.length;
  const x = (i: number): number => PAD.left + slot * (i + 0.5);
  const yRate = (v: number): number => PAD.top + plotH - (v / maxRate) * plotH;
  const yFailed = (v: number): number => (v / maxFailed) * plotH;
  const bars = buckets
    .map((b, i) =>
      b.failed === 0
        ? ''
        : `<rect class="failed" x="${fixed(PAD.left + slot * i + slot * 0.15)}" y="${fixed(PAD.top + plotH - yFailed(b.failed))}" width="${fixed(slot * 0.7)}" height="${fixed(yFailed(b.failed))}"><title>${html(b.failed)} failed</title></rect>`,
    )
    .join('');
  const line = buckets.map((b, i) => `${fixed(x(i))},${fixed(yRate(b.perSecond))}`).join(' ');
  const seconds = spanMs / 1000;
  return `<svg class="chart" role="img" aria-label="Throughput and failures over time" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}">
${chartAxes({ left: PAD.left, top: PAD.top, width: plotW, height: plotH, leftTop: `${formatNumber(maxRate)}/s`, rightTop: formatNumber(maxFailed) })}
<text class="tick" x="${PAD.left}" y="${HEIGHT - 12}">0 s</text>
<text class="tick" x="${PAD.left + plotW}" y="${HEIGHT - 12}" text-anchor="end">${html(formatNumber(Math.round(seconds)))} s</text>
${bars}
<polyline class="rate" points="${line}"/>
</svg>
<p class="legend"><span class="key rate-key"></span> records per second <span class="key failed-key"></span> failed records (right axis), in ${buckets.length} equal slices of the run</p>`;
}
