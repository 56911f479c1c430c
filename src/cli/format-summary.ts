/**
 * The human-readable summary table the CLI prints at the end of a run.
 */
import { printable, printableLine } from '../report/printable.js';
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
    row(
      'this run',
      `${formatCount(summary.thisRun.succeeded)} succeeded, ${formatCount(summary.thisRun.failed)} failed, ${formatCount(summary.alreadyDone)} already done before`,
    ),
    row('attempts', `${formatCount(summary.attempts)} (${formatCount(summary.retries)} retries)`),
    row('elapsed', `${(summary.elapsedMs / 1000).toFixed(1)} s, ${formatCount(summary.recordsPerSecond)} records/s`),
    row('ledger', summary.ledger),
  ];
  const rate = summary.pacing?.rateLimit as { waits?: number; waitedMs?: number } | undefined;
  if (rate)
    lines.push(
      row('rate limit', `${formatCount(rate.waits ?? 0)} waits for a token, ${((rate.waitedMs ?? 0) / 1000).toFixed(1)} s waited in all`),
    );
  for (const waited of waitLines(summary)) lines.push(row('waited', waited));
  if (summary.breaker.trips > 0) {
    const trip = summary.breaker.lastTrip;
    lines.push(
      row(
        'breaker',
        `opened ${summary.breaker.trips} time(s)${trip ? `; last: ${trip.description}${trip.error ? ` (${trip.error.name}: ${truncate(trip.error.message, 60)})` : ''}` : ''}`,
      ),
    );
  }
  if (summary.topErrors.length > 0) {
    lines.push('  top errors:');
    for (const group of summary.topErrors) {
      const what = [group.kind, group.rule].filter((part) => part !== undefined).join(', ');
      lines.push(
        `    ${String(group.count).padStart(7)}  ${group.fingerprint}  ${printableLine(group.name, 60)}${group.code !== undefined ? ` [${printableLine(group.code, 40)}]` : ''}${what ? ` (${what})` : ''}`,
      );
      // Summaries saved by an older batchguard have no templates: show their message instead.
      const templates = group.templates ?? [{ template: group.message, count: group.count, sampleKeys: group.sampleKeys }];
      for (const t of templates) {
        lines.push(
          `    ${' '.repeat(7)}  ${String(t.count).padStart(12)}  ${printableLine(t.template, 80)}  e.g. ${t.sampleKeys.map((key) => printableLine(key, 40)).join(', ')}`,
        );
      }
    }
  }
  if (summary.reports) {
    lines.push(`  reports:      ${summary.reports.summary}`);
    lines.push(`                ${summary.reports.failures}`);
  }
  if (summary.next) lines.push(`  next: ${summary.next}`);
  return lines.map(printable).join('\n');
}

/**
 * What the reading of a run (of a second or more) waited for, each when it is a fifth or more of
 * the run: the ledger's commits and crash notes (the ledger, not the handler, set the pace), and the
 * suspects of an earlier crash running in groups by themselves (what the crash cost this resume).
 */
function waitLines(summary: Summary): string[] {
  const waits = summary.waits;
  if (waits === undefined || summary.elapsedMs < 1000) return [];
  const lines: string[] = [];
  const share = (ms: number) => ms / summary.elapsedMs;
  const said = (ms: number) => `${(ms / 1000).toFixed(1)} s (${Math.round(share(ms) * 100)}% of the run)`;
  const ledgerMs = waits.ledgerMs + waits.notesMs;
  if (share(ledgerMs) >= 0.2) lines.push(`${said(ledgerMs)} for the ledger's commits and crash notes: the ledger set the pace`);
  if (share(waits.groupsMs) >= 0.2) lines.push(`${said(waits.groupsMs)} while the suspects of an earlier crash ran alone`);
  return lines;
}

function truncate(text: string, length: number): string {
  return printableLine(text.replace(/\s+/g, ' '), length);
}
