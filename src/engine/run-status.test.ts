import { describe, expect, it } from 'vitest';
import type { LedgerCounts, RecordRow, RowFilter } from '../ledger/ledger.js';
import { RunStatus } from '../report/summary.js';
import { decideStatus, hasTransientFailures, nextCommand, type NextInput } from './run-status.js';

const counts = (failed: number): LedgerCounts => ({
  total: 10,
  succeeded: 10 - failed,
  failed,
  skipped: 0,
  pending: 0,
  sourceExhausted: true,
});
const input = (overrides: Partial<NextInput>): NextInput => ({
  status: RunStatus.completed,
  counts: counts(0),
  jobFile: 'job.ts',
  ledgerFlag: undefined,
  command: 'batchguard',
  transientFailures: false,
  ...overrides,
});

/** A ledger whose failed records have these kinds. */
function ledgerWith(kinds: string[]) {
  return {
    asked: [] as (string | undefined)[],
    async *rows(filter: RowFilter): AsyncIterable<RecordRow> {
      this.asked.push(filter.kind);
      for (const kind of kinds) if (filter.statuses.includes('failed') && kind === filter.kind) yield { kind } as RecordRow;
    },
  };
}

describe('the next command', () => {
  it('re-runs failures that may pass on a second try', () => {
    expect(nextCommand(input({ status: RunStatus.thresholdExceeded, counts: counts(3), transientFailures: true }))).toBe(
      'batchguard rerun job.ts --failed',
    );
  });

  it('shows the failures instead when every failure is permanent (a re-run would repeat them)', () => {
    expect(nextCommand(input({ counts: counts(3), transientFailures: false }))).toBe('batchguard failures job.ts');
  });

  it('resumes after a stop, with the ledger flag and the command as installed', () => {
    for (const status of [RunStatus.interrupted, RunStatus.stopped, RunStatus.aborted]) {
      expect(nextCommand(input({ status, counts: counts(3), command: 'npx batchguard', ledgerFlag: 'l.sqlite' }))).toBe(
        'npx batchguard run job.ts --ledger l.sqlite',
      );
    }
  });

  it('is nothing when the job is done and nothing failed', () => {
    expect(nextCommand(input({}))).toBeUndefined();
  });

  it('counts exhausted and timeout as transient, fatal, invalid and crashed as permanent', async () => {
    expect(await hasTransientFailures(ledgerWith(['fatal', 'invalid', 'crashed']))).toBe(false);
    expect(await hasTransientFailures(ledgerWith(['fatal', 'timeout']))).toBe(true);
    const ledger = ledgerWith(['exhausted', 'exhausted']);
    expect(await hasTransientFailures(ledger)).toBe(true);
    expect(ledger.asked).toEqual(['exhausted']);
  });
});

describe("a completed run's reason", () => {
  it('counts its failures in the singular for one', () => {
    const decide = (failed: number, maxFailures = 100) =>
      decideStatus({ ending: undefined, counts: counts(failed), maxFailures, maxFailureRate: 1 }).reason;
    expect(decide(1)).toBe('1 record failed, within the thresholds');
    expect(decide(3)).toBe('3 records failed, within the thresholds');
    expect(decide(1, 0)).toBe('1 record failed, more than maxFailures 0');
  });

  it('says the job is not finished when records are pending or the source was not read to its end (a re-run does only its selection)', () => {
    const decide = (over: Partial<LedgerCounts>) =>
      decideStatus({ ending: undefined, counts: { ...counts(0), ...over }, maxFailures: 100, maxFailureRate: 1 });
    expect(decide({ pending: 1 })).toEqual({
      status: RunStatus.completed,
      reason: 'no record failed, but the job is not finished: 1 record pending; `run` goes on',
    });
    expect(decide({ sourceExhausted: false, total: 50 }).reason).toBe(
      'no record failed, but the job is not finished: the source not read to its end; `run` goes on',
    );
    expect(decide({ failed: 2, pending: 3, sourceExhausted: false }).reason).toBe(
      '2 records failed, within the thresholds, but the job is not finished: 3 records pending, and the source not read to its end; `run` goes on',
    );
  });
});

describe('the next command of an unfinished job', () => {
  it('is run, before any failure: a completed re-run leaves the rest of the job to it', () => {
    const unfinished = { ...counts(2), pending: 5 };
    expect(nextCommand(input({ counts: unfinished, transientFailures: true }))).toBe('batchguard run job.ts');
    expect(nextCommand(input({ counts: { ...counts(0), sourceExhausted: false } }))).toBe('batchguard run job.ts');
  });
});
