/**
 * What every topic of the ledger conformance suite shares: the handles it opened (closed after each
 * test, before the backend's cleanup), and small builders of the values the Ledger interface takes.
 * Everything is asserted through the `Ledger` interface: nothing here knows a backend.
 */
import { LedgerError } from '../../src/errors.js';
import { resolveLeaseOptions, type ResolvedLeaseOptions } from '../../src/ledger/lease.js';
import type { CommitBatch, Ledger, RecordRow, RunStart } from '../../src/ledger/ledger.js';
import type { SourceFingerprint } from '../../src/sources/source.js';

/** What the suite asks of a backend when it opens a ledger. */
export interface ConformanceOpenOptions {
  /** The lease to hold runs under: the suite shortens it so that expiries take well under a second. */
  readonly lease: ResolvedLeaseOptions;
}

/**
 * Opens another handle on the ledger under test, as another process would: every call until the
 * next `cleanup` reaches the same stored ledger, and each handle is its own lease owner.
 */
export type OpenLedger = (options: ConformanceOpenOptions) => Promise<Ledger>;

/** What a backend must let the suite do that the Ledger interface (rightly) cannot. */
export interface ConformanceHooks {
  /**
   * Marks the stored ledger as written by a newer batchguard (a schema version this code does not
   * know), as that version would. The suite closes every handle first.
   */
  writeFutureSchema(): Promise<void>;
}

/**
 * The lease of most tests: long enough that a loaded machine's pauses never expire it, short
 * enough that waiting for a refusal stays under a second.
 */
export const LEASE = resolveLeaseOptions({ expireMs: 1500, renewEveryMs: 250 });
/** The lease of a run that the test lets die: the next run waits for this expiry at most. */
export const SHORT_LEASE = resolveLeaseOptions({ expireMs: 400, renewEveryMs: 100 });

export const FINGERPRINT: SourceFingerprint = {
  description: 'jsonl:data/in.jsonl',
  size: 1000,
  mtimeMs: 1_700_000_000_000,
  sampleHash: 'aaaa',
};

/** The handles of one test, closed after it whatever happened. */
export class Harness {
  private readonly opened: Ledger[] = [];

  constructor(private readonly openLedger: OpenLedger) {}

  /** Another handle on the ledger under test. */
  async open(lease: ResolvedLeaseOptions = LEASE): Promise<Ledger> {
    const ledger = await this.openLedger({ lease });
    this.opened.push(ledger);
    return ledger;
  }

  /** Closes every handle this test opened (a handle closed without `finish` is a run that died). */
  async closeAll(): Promise<void> {
    for (const ledger of this.opened.splice(0)) await ledger.close();
  }
}

export function start(runId: string, overrides: Partial<RunStart> = {}): RunStart {
  return { runId, job: 'conformance', fingerprint: FINGERPRINT, acceptDrift: false, options: { concurrency: 4 }, ...overrides };
}

export function batch(runId: string, overrides: Partial<CommitBatch> = {}): CommitBatch {
  return { runId, succeeded: [], rows: [], watermark: undefined, seen: 0, exhausted: false, ...overrides };
}

/** A failed record's row, as the engine writes it. */
export function failedRow(seq: number, runId: string, overrides: Partial<RecordRow> = {}): RecordRow {
  return {
    seq,
    key: `key-${seq}`,
    status: 'failed',
    kind: 'exhausted',
    attempts: 3,
    error: { name: 'Error', message: `failure of ${seq}` },
    fingerprint: 'fp-a',
    template: 'failure of <n>',
    rule: 'default',
    runId,
    line: seq + 1,
    offset: seq * 100,
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A skipped record's row: blocked by the failed keys in `blockedBy`. */
export function skippedRow(seq: number, runId: string, blockedBy: readonly string[]): RecordRow {
  return { seq, key: `key-${seq}`, status: 'skipped', attempts: 0, blockedBy, runId, line: seq + 1, updatedAt: '2026-01-01T00:00:00.000Z' };
}

/** A re-run's success of a record that had a row: it stays a row. */
export function succeededRow(seq: number, runId: string, attempts = 1): RecordRow {
  return { seq, key: `key-${seq}`, status: 'succeeded', attempts, runId, line: seq + 1, updatedAt: '2026-01-02T00:00:00.000Z' };
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** The LedgerError a promise rejects with (fails the test if it resolves or rejects otherwise). */
export async function ledgerError(promise: Promise<unknown>): Promise<LedgerError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof LedgerError) return error;
    throw error;
  }
  throw new Error('expected a LedgerError, but the call succeeded');
}
