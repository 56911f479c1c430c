/**
 * What `run --dry-run` prints for a person: the counts, then the first invalid records. Their
 * messages quote the input, so they are printed through `printable` (an escape sequence in a bad
 * line must not reach the terminal raw), and a message that already names its line is not
 * prefixed with it again.
 */
import { printableLine } from '../report/printable.js';
import type { DryRunReport } from '../use-cases/dry-run.js';

/** How much of a problem's message is printed. */
const MESSAGE_CHARS = 300;

export function formatDryRun(report: DryRunReport): string {
  const lines = [
    `dry run of ${report.job} over ${report.source} (the handler is not called, the ledger is not changed)`,
    `  records          ${report.total}`,
    `  already done     ${report.alreadyDone}`,
    `  would process    ${report.wouldProcess}`,
    `  invalid          ${report.invalid}${report.invalid > 0 ? ' (a run records them as failed, kind invalid)' : ''}`,
    ...report.problems.map((p) => {
      const where = p.line !== undefined ? `line ${p.line}` : `record #${p.seq}`;
      const message = p.message.startsWith(`${where}: `) ? p.message : `${where}: ${p.message}`;
      return `    ${printableLine(message, MESSAGE_CHARS)}`;
    }),
  ];
  if (report.invalid > report.problems.length) lines.push(`    … and ${report.invalid - report.problems.length} more`);
  return lines.join('\n');
}
