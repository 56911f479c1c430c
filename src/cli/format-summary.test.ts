import { describe, expect, it } from 'vitest';
import { buildSummary, type Summary } from '../report/summary.js';
import { formatSummary } from './format-summary.js';

function summary(elapsedMs: number, waits: Summary['waits']): Summary {
  return buildSummary({
    job: 'j',
    runId: 'r',
    status: 'completed',
    reason: 'every record has an outcome',
    counts: { total: 10, succeeded: 10, failed: 0, skipped: 0, pending: 0, sourceExhausted: true },
    stats: { attempts: 10, retries: 0 },
    thisRun: { succeeded: 10, failed: 0, skipped: 0 },
    alreadyDone: 0,
    elapsedMs,
    topErrors: [],
    ledger: 'l.sqlite',
    next: undefined,
    warnings: [],
    reports: undefined,
    breaker: { state: 'closed', trips: 0, retriesDeferred: 0, parkedAttempts: 0 },
    waits,
  });
}

describe('the summary table', () => {
  it('says when the ledger set the pace: a fifth or more of a run of a second or more spent waiting for it', () => {
    const text = formatSummary(summary(2000, { slotsMs: 900, ledgerMs: 500, notesMs: 100, breakerMs: 0, groupsMs: 0 }));
    expect(text).toContain("waited         0.6 s (30% of the run) for the ledger's commits and crash notes: the ledger set the pace");
  });

  it('says when the suspects of an earlier crash, running alone, took a fifth or more of the run', () => {
    const text = formatSummary(summary(4000, { slotsMs: 100, ledgerMs: 100, notesMs: 0, breakerMs: 0, groupsMs: 1200 }));
    expect(text).toContain('waited         1.2 s (30% of the run) while the suspects of an earlier crash ran alone');
    expect(text).not.toContain("ledger's commits");
  });

  it('says nothing of waits that are small, or in a short run, or not known', () => {
    expect(formatSummary(summary(2000, { slotsMs: 1500, ledgerMs: 300, notesMs: 0, breakerMs: 0, groupsMs: 300 }))).not.toContain('waited');
    expect(formatSummary(summary(500, { slotsMs: 0, ledgerMs: 400, notesMs: 0, breakerMs: 0, groupsMs: 0 }))).not.toContain('waited');
    expect(formatSummary(summary(2000, undefined))).not.toContain('waited');
  });
});
