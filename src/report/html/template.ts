/**
 * The HTML report of one run: one self-contained file (inline CSS and SVG, no script, nothing
 * fetched), with the run's figures, the failure groups with sample keys and messages, a chart of
 * throughput and failures over time, and one of the job's recent runs side by side. Every value from records, errors and the ledger is escaped
 * (escape.ts), and the page's Content-Security-Policy forbids script in any case.
 */
import type { ErrorGroup, LedgerCounts, RunRecord, TimelinePoint } from '../../ledger/ledger.js';
import { runFigures, type RunFigures } from '../run-history.js';
import { bucketTimeline, renderChart } from './chart.js';
import { html } from './escape.js';
import { renderHistoryChart } from './history-chart.js';
import { REPORT_CSS } from './style.js';

/** What the report shows. */
export interface HtmlReportInput {
  readonly job: string;
  readonly run: RunRecord;
  /** The job's counts across all runs, now. */
  readonly counts: LedgerCounts;
  readonly groups: readonly ErrorGroup[];
  readonly timeline: readonly TimelinePoint[];
  /** The job's runs up to and including this one, newest first (the history chart). */
  readonly history: readonly RunRecord[];
  /** When the report was written (ISO time). */
  readonly generatedAt: string;
}

interface RunSummaryFields {
  readonly reason?: unknown;
  readonly attempts?: unknown;
  readonly retries?: unknown;
  readonly regressions?: unknown;
}

/** The whole HTML document. */
export function renderHtmlReport(input: HtmlReportInput): string {
  const { run, counts } = input;
  const thisRun = sumTimeline(input.timeline);
  const endMs = run.endedAt !== undefined ? Date.parse(run.endedAt) : Date.parse(input.timeline.at(-1)?.at ?? run.startedAt);
  const elapsedMs = Math.max(0, endMs - Date.parse(run.startedAt));
  const summary = (typeof run.summary === 'object' && run.summary !== null ? run.summary : {}) as RunSummaryFields;
  const decided = counts.succeeded + counts.failed;
  const rate = decided === 0 ? 0 : counts.failed / decided;
  const figures: [string, string, string][] = [
    ['status', 'Status', run.status],
    ['run-done', 'Finished in this run', String(thisRun.done)],
    ['run-failed', 'Failed in this run', String(thisRun.failed)],
    ['per-second', 'Records per second', elapsedMs > 0 ? String(Math.round((thisRun.done / elapsedMs) * 1000)) : '0'],
    ['elapsed', 'Elapsed', formatDuration(elapsedMs)],
    ['total', 'Records (job)', String(counts.total)],
    ['succeeded', 'Succeeded (job)', String(counts.succeeded)],
    ['failed', 'Failed (job)', String(counts.failed)],
    ['skipped', 'Skipped (job)', String(counts.skipped)],
    ['pending', 'Pending (job)', String(counts.pending)],
    ['failure-rate', 'Failure rate (job)', `${(rate * 100).toFixed(2)}%`],
  ];
  if (typeof summary.attempts === 'number') figures.push(['attempts', 'Attempts', String(summary.attempts)]);
  if (typeof summary.retries === 'number') figures.push(['retries', 'Retries', String(summary.retries)]);
  const reason = typeof summary.reason === 'string' ? `<p class="reason">${html(summary.reason)}</p>` : '';
  const history = input.history.map(runFigures).filter((figures): figures is RunFigures => figures !== undefined);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(input.job)}: run ${html(run.runId)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${html(input.job)}</h1>
<p class="meta">run <code>${html(run.runId)}</code> · started ${html(run.startedAt)}${run.endedAt ? ` · ended ${html(run.endedAt)}` : ''} · on ${html(run.host)} (pid ${html(run.pid)})</p>
${reason}
</header>
<section>
<h2>Summary</h2>
<dl class="figures">
${figures.map(([id, label, value]) => `<div><dt>${html(label)}</dt><dd data-figure="${id}">${html(value)}</dd></div>`).join('\n')}
</dl>
</section>
<section>
<h2>Over time</h2>
${renderChart(bucketTimeline(input.timeline, run.startedAt), elapsedMs)}
</section>
<section>
<h2>Recent runs</h2>
${renderRegressions(summary.regressions)}
${renderHistoryChart(history, run.runId, input.history.length - history.length)}
</section>
<section>
<h2>Failures by cause</h2>
${renderGroups(input.groups)}
</section>
<footer>Written by batchguard at ${html(input.generatedAt)} from the ledger. The failure groups are the job's current failures across all runs.</footer>
</body>
</html>
`;
}

function renderGroups(groups: readonly ErrorGroup[]): string {
  if (groups.length === 0) return '<p class="empty">No failed records.</p>';
  return groups
    .map(
      (group) => `<article class="group" data-fingerprint="${html(group.fingerprint)}">
<h3><span class="count">${html(group.count)}</span> ${html(group.name)}${group.code !== undefined ? ` <code>${html(group.code)}</code>` : ''}${group.kind !== undefined ? ` <span class="kind">${html(group.kind)}</span>` : ''}</h3>
<p class="message">${html(group.message)}</p>
<p class="fingerprint">group <code>${html(group.fingerprint)}</code>${group.rule !== undefined ? ` · rule <code>${html(group.rule)}</code>` : ''}</p>
<table>
<thead><tr><th>count</th><th>message template</th><th>sample keys</th></tr></thead>
<tbody>
${group.templates.map((t) => `<tr><td class="num">${html(t.count)}</td><td class="template">${html(t.template)}</td><td class="keys">${t.sampleKeys.map((key) => `<code>${html(key)}</code>`).join(' ')}</td></tr>`).join('\n')}
</tbody>
</table>
</article>`,
    )
    .join('\n');
}

/** The summary's regressions (this run markedly slower or failing more than the ones before it), one line each. */
function renderRegressions(regressions: unknown): string {
  const messages = Array.isArray(regressions)
    ? regressions.map((r: { message?: unknown }) => r?.message).filter((m): m is string => typeof m === 'string')
    : [];
  return messages.map((message) => `<p class="regression">${html(message)}</p>`).join('\n');
}

function sumTimeline(points: readonly TimelinePoint[]): { done: number; failed: number } {
  let done = 0;
  let failed = 0;
  for (const point of points) {
    done += point.done;
    failed += point.failed;
  }
  return { done, failed };
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
