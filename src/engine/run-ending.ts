/**
 * Why a run ended early: one value, set when the run starts stopping (or finds it cannot go on), and
 * read when it finishes. A later cause replaces an earlier one only when it weighs more (an
 * interrupted run whose ledger then fails reports the ledger's error), never the other way round.
 */
import type { DeadlineReason } from '../policy/deadline.js';

export type RunEnding =
  /** Stopped from outside (`stop()`, a signal, SIGINT): status `interrupted`. */
  | { readonly kind: 'stopped'; readonly reason: string }
  /** A time or record limit was reached: status `stopped`, exit code 5. */
  | { readonly kind: 'deadline'; readonly limit: DeadlineReason; readonly description: string }
  /**
   * The health check failed, the breaker did not recover, or the first records were nearly all
   * invalid (invalid-start.ts): status `aborted`, exit code 3.
   */
  | { readonly kind: 'aborted'; readonly reason: string; readonly by: 'health-check' | 'breaker' | 'invalid-records' }
  /** An error escaped the job's code and no running record could be blamed: status `uncaught-error`. */
  | { readonly kind: 'uncaught'; readonly reason: string }
  /** The source failed mid-run: what finished is committed, then its error is thrown (exit code 2). */
  | { readonly kind: 'source-failed'; readonly error: unknown }
  /** A configuration error found mid-run (a dependency cycle): committed, then thrown. */
  | { readonly kind: 'config-error'; readonly error: unknown }
  /** The ledger could not be written: thrown, nothing more is committed. */
  | { readonly kind: 'ledger-failed'; readonly error: unknown };

export type RunEndingKind = RunEnding['kind'];

/** How much each cause weighs: what the run reports when several happen. */
const WEIGHT: Readonly<Record<RunEndingKind, number>> = {
  stopped: 0,
  deadline: 1,
  aborted: 2,
  uncaught: 3,
  'source-failed': 4,
  'config-error': 5,
  'ledger-failed': 6,
};

/** The ending to keep when `next` happens after `current`. */
export function laterEnding(current: RunEnding | undefined, next: RunEnding): RunEnding {
  return current === undefined || WEIGHT[next.kind] > WEIGHT[current.kind] ? next : current;
}

/** What the run says it is stopping for (progress lines, the `run:stopping` event). */
export function stoppingFor(ending: RunEnding): string {
  switch (ending.kind) {
    case 'stopped':
      return ending.reason;
    case 'deadline':
      return `its deadline (${ending.limit})`;
    case 'aborted':
      return ABORTED_BY[ending.by];
    case 'uncaught':
      return 'an uncaught error';
    case 'source-failed':
      return 'the source failed';
    case 'config-error':
      return 'a dependency cycle';
    case 'ledger-failed':
      return 'the ledger could not be written';
  }
}

/** The error the run throws instead of a summary, when it ended for one. */
export function thrownBy(ending: RunEnding | undefined): { readonly error: unknown } | undefined {
  if (ending?.kind === 'ledger-failed' || ending?.kind === 'config-error' || ending?.kind === 'source-failed')
    return { error: ending.error };
  return undefined;
}

/** What a run that was aborted was stopping for, by what aborted it. */
const ABORTED_BY: Readonly<Record<Extract<RunEnding, { kind: 'aborted' }>['by'], string>> = {
  breaker: 'the breaker did not recover',
  'health-check': 'the health check failed',
  'invalid-records': 'the first records were nearly all invalid',
};
