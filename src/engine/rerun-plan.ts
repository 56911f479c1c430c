/**
 * Which stored rows a re-run processes.
 */
import type { Ledger, RecordRow } from '../ledger/ledger.js';
import type { RerunOptions } from './run-options.js';

/**
 * The failures that match the re-run's filter (error group, kind, keys), and the records they
 * block (skipped rows whose failed ancestor, the last key of `blockedBy`, is one of them), so that
 * fixing a parent also runs its descendants. In source order.
 */
export async function rerunPlan(
  ledger: Pick<Ledger, 'rows'>,
  rerun: RerunOptions,
): Promise<{ rows: RecordRow[]; keys: ReadonlySet<string> | undefined }> {
  const keys = rerun.keys ? new Set(rerun.keys) : undefined;
  const narrowed = rerun.fingerprint !== undefined || rerun.kind !== undefined || keys !== undefined;
  const failed = new Set<string>();
  const rows: RecordRow[] = [];
  for await (const row of ledger.rows({ statuses: ['failed'], fingerprint: rerun.fingerprint, kind: rerun.kind })) {
    if (keys && !keys.has(row.key)) continue;
    rows.push(row);
    failed.add(row.key);
  }
  for await (const row of ledger.rows({ statuses: ['skipped'] })) {
    const root = row.blockedBy?.[row.blockedBy.length - 1];
    if (!narrowed || (root !== undefined && failed.has(root)) || keys?.has(row.key)) rows.push(row);
  }
  rows.sort((a, b) => a.seq - b.seq);
  return { rows, keys };
}

/**
 * The group each failure a re-run selected had when it was chosen, by sequence number; undefined
 * when none has one. The same failure again is the record's own, not an outage (breaker-control.ts).
 */
export function recordedFailures(
  rows: readonly Pick<RecordRow, 'seq' | 'fingerprint'>[],
): ((seq: number) => string | undefined) | undefined {
  const groups = new Map<number, string>();
  for (const row of rows) if (row.fingerprint !== undefined) groups.set(row.seq, row.fingerprint);
  return groups.size === 0 ? undefined : (seq) => groups.get(seq);
}
