/**
 * Counts `isolate`'s outcomes into its summary: totals, attempts and the largest failure groups
 * (by fingerprint, as a job's summary groups them), with a few sample keys each.
 */
import type { SerializedError } from '../policy/serialize-error.js';

/** What `isolate` did, once every record has an outcome. */
export interface IsolateSummary {
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  /** Handler calls, retries included. */
  readonly attempts: number;
  readonly retries: number;
  /** failed / total (0 when there were no records). */
  readonly failureRate: number;
  readonly elapsedMs: number;
  readonly recordsPerSecond: number;
  /** The largest failure groups, largest first. */
  readonly topErrors: readonly { fingerprint: string; name: string; message: string; count: number; sampleKeys: string[] }[];
}

interface Counted {
  readonly status: 'succeeded' | 'failed';
  readonly key: string;
  readonly attempts: number;
  readonly fingerprint?: string;
  readonly serialized?: SerializedError;
}

const TOP_ERRORS = 5;
const SAMPLE_KEYS = 5;

export class ErrorTally {
  private succeeded = 0;
  private failed = 0;
  private attempts = 0;
  private retries = 0;
  private readonly groups = new Map<string, { name: string; message: string; count: number; sampleKeys: string[] }>();

  add(outcome: Counted): void {
    this.attempts += outcome.attempts;
    this.retries += Math.max(0, outcome.attempts - 1);
    if (outcome.status === 'succeeded') {
      this.succeeded++;
      return;
    }
    this.failed++;
    const fingerprint = outcome.fingerprint ?? '';
    let group = this.groups.get(fingerprint);
    if (!group) {
      group = { name: outcome.serialized?.name ?? 'Error', message: outcome.serialized?.message ?? '', count: 0, sampleKeys: [] };
      this.groups.set(fingerprint, group);
    }
    group.count++;
    if (group.sampleKeys.length < SAMPLE_KEYS) group.sampleKeys.push(outcome.key);
  }

  summary(elapsedMs: number): IsolateSummary {
    const total = this.succeeded + this.failed;
    const topErrors = [...this.groups]
      .map(([fingerprint, g]) => ({ fingerprint, ...g }))
      .sort((a, b) => b.count - a.count)
      .slice(0, TOP_ERRORS);
    return {
      total,
      succeeded: this.succeeded,
      failed: this.failed,
      attempts: this.attempts,
      retries: this.retries,
      failureRate: total === 0 ? 0 : this.failed / total,
      elapsedMs,
      recordsPerSecond: elapsedMs > 0 ? Math.round((total * 1000) / elapsedMs) : 0,
      topErrors,
    };
  }
}
