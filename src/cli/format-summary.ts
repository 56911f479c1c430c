/**
 * The human-readable summary table the CLI prints at the end of a run.
 */
import type { Summary } from '../report/summary.js';
import { formatCount } from './format-count.js';

function row(label: string, value: string): string {
  return `  ${label.padEnd(14)} ${value}`;
}

export function formatSummary(summary: Summary): string {
  const lines = [
    `batchguard: ${summary.job} ${summary.status} (${summary.reason})`,
    row('total', formatCount(summary.total) + (summary.sourceExhausted ? '' : ' (source not read to its end yet)')),
    row('succeeded', formatCount(summary.succeeded)),
    row('failed', `${formatCount(summary.failed)} (${(summary.failureRate * 100).toFixed(2)}%)`),
    row('skipped', formatCount(summary.skipped)),
    row('pending', formatCount(summary.pending)),
    row('this run', `${formatCount(summary.thisRun.succeeded)} succeeded, ${formatCount(summary.thisRun.failed)} failed, ${formatCount(summary.alreadyDone)} already done before`),
    row('attempts', `${formatCount(summary.attempts)} (${formatCount(summary.retries)} retries)`),
    row('elapsed', `${(summary.elapsedMs / 1000).toFixed(1)} s, ${formatCount(summary.recordsPerSecond)} records/s`),
    row('ledger', summary.ledger),
  ];
  const rate = summary.pacing?.rateLimit as { waits?: number; waitedMs?: number } | undefined;
  if (rate) lines.push(row('rate limit', `${formatCount(rate.waits ?? 0)} waits for a token, ${((rate.waitedMs ?? 0) / 1000).toFixed(1)} s waited in all`));
  if (summary.breaker.trips > 0) {
    const trip = summary.breaker.lastTrip;
    lines.push(row('breaker', `opened ${summary.breaker.trips} time(s)${trip ? `; last: ${trip.description}${trip.error ? ` (${trip.error.name}: ${truncate(trip.error.message, 60)})` : ''}` : ''}`));
  }
  if (summary.topErrors.length > 0) {
    lines.push('  top errors:');
    for (const group of summary.topErrors) {
      lines.push(`    ${String(group.count).padStart(7)}  ${group.fingerprint}  ${group.name}: ${truncate(group.message, 80)}  e.g. ${group.sampleKeys.join(', ')}`);
    }
  }
  if (summary.reports) {
    lines.push(`  reports:      ${summary.reports.summary}`);
    lines.push(`                ${summary.reports.failures}`);
  }
  if (summary.next) lines.push(`  next: ${summary.next}`);
  return lines.join('\n');
}

function truncate(text: string, length: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > length ? `${oneLine.slice(0, length - 1)}…` : oneLine;
}
