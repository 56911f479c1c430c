/**
 * What processing one record produced. `pending` means "no outcome": the run stopped before the
 * record finished, and the next run processes it again.
 */
import type { SerializedError } from '../policy/serialize-error.js';
import type { SourcePosition } from '../sources/source.js';
import type { FailureKind } from './status.js';

/** One attempt, as the failure report shows it. */
export interface AttemptRecord {
  readonly attempt: number;
  readonly durationMs: number;
  readonly error?: SerializedError;
  /** The wait before the next attempt, when there was one. */
  readonly delayMs?: number;
}

export type Outcome =
  | {
      readonly status: 'succeeded';
      readonly key: string;
      readonly position: SourcePosition;
      readonly attempts: number;
      readonly value: unknown;
    }
  | {
      readonly status: 'failed';
      readonly key: string;
      readonly position: SourcePosition;
      readonly attempts: number;
      readonly kind: FailureKind;
      readonly error: SerializedError;
      readonly fingerprint: string;
      /** The masked message, grouped under the fingerprint (computed from `error` when absent). */
      readonly template?: string;
      readonly rule: string;
      readonly history: readonly AttemptRecord[];
    }
  | { readonly status: 'skipped'; readonly key: string; readonly position: SourcePosition; readonly blockedBy: readonly string[] }
  | { readonly status: 'pending'; readonly key: string; readonly position: SourcePosition; readonly attempts: number };

/** How a record's attempts end other than in a success (the success path builds no outcome): failed, or pending. */
export type AttemptsEnd = Extract<Outcome, { readonly status: 'failed' | 'pending' }>;

/** An outcome stored as a row by the group commit (successes are stored as ranges, or by `addSucceeded`). */
export type RowOutcome = Extract<Outcome, { readonly status: 'failed' | 'skipped' }>;
