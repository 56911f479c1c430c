/**
 * Where the reader waited during a run, in milliseconds of the run's clock. Waiting for a free slot
 * is a run going at its handlers' pace (the normal case). Waiting for the ledger (a commit on its
 * way) is time its latency cost; waiting for a crash note the same for the notes (crash-guard.ts);
 * waiting for the breaker is an outage; waiting while the suspects of an earlier crash run in
 * groups by themselves is what the crash costs the resume. A run whose reader waited mostly for the
 * ledger is limited by the ledger, not by its handler: the summary's `waits` (docs/cli.md) says so
 * without a profiler.
 */
import type { ReaderWaitsSummary } from '../report/summary.js';

type Kind = keyof ReaderWaitsSummary;

export class ReaderWaits {
  private readonly totals: Record<Kind, number> = { slotsMs: 0, ledgerMs: 0, notesMs: 0, breakerMs: 0, groupsMs: 0 };

  constructor(private readonly now: () => number) {}

  /** The start of a wait, to hand back to `ended`. */
  started(): number {
    return this.now();
  }

  /** A wait of `kind` that started at `since` is over. */
  ended(kind: Kind, since: number): void {
    this.totals[kind] += this.now() - since;
  }

  /** The totals, in whole milliseconds. */
  summary(): ReaderWaitsSummary {
    const { slotsMs, ledgerMs, notesMs, breakerMs, groupsMs } = this.totals;
    return {
      slotsMs: Math.round(slotsMs),
      ledgerMs: Math.round(ledgerMs),
      notesMs: Math.round(notesMs),
      breakerMs: Math.round(breakerMs),
      groupsMs: Math.round(groupsMs),
    };
  }
}
