/**
 * One line of the failure report (contract section 4.5), from a stored row.
 */
import type { RecordRow } from '../ledger/ledger.js';
import { maskMessage } from '../policy/fingerprint.js';

export interface FailureLine {
  readonly key: string;
  readonly status: string;
  readonly kind?: string;
  readonly attempts?: number;
  readonly error?: unknown;
  /** The failure's group (one cause). */
  readonly fingerprint?: string;
  /** The masked message: the second level of grouping, under the fingerprint. */
  readonly template?: string;
  readonly rule?: string;
  readonly runId: string;
  readonly source: { readonly seq: number; readonly line?: number; readonly offset?: number };
  readonly failedAt?: string;
  readonly history?: unknown;
  readonly blockedBy?: readonly string[];
}

export function toFailureLine(row: RecordRow): FailureLine {
  const source = {
    seq: row.seq,
    ...(row.line !== undefined ? { line: row.line } : {}),
    ...(row.offset !== undefined ? { offset: row.offset } : {}),
  };
  if (row.status === 'skipped') {
    return { key: row.key, status: 'skipped', blockedBy: row.blockedBy ?? [], runId: row.runId, source, failedAt: row.updatedAt };
  }
  return {
    key: row.key,
    status: row.status,
    kind: row.kind,
    attempts: row.attempts,
    error: row.error,
    fingerprint: row.fingerprint,
    template: row.template ?? (row.error ? maskMessage(row.error.message) : undefined),
    rule: row.rule,
    runId: row.runId,
    source,
    failedAt: row.updatedAt,
    history: row.history ?? [],
  };
}
