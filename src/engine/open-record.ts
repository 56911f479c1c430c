/**
 * A record the run has read and not finished: what every part of the loop passes around. Where it
 * is in the loop is one value, its `phase`; the dispatcher (dispatcher.ts) is the only one that
 * changes it, and derives from the change which slots it takes or gives back.
 */
import type { AttemptRecord } from '../domain/outcome.js';
import type { SourcePosition } from '../sources/source.js';
import type { AttemptContext } from './attempt-context.js';
import type { StepCalls } from './durable-step.js';
import type { LazySerializedError } from './stored-error.js';

/**
 * Where an open record is. Small integers, not strings: the dispatcher counts records by phase at
 * every move (twice a record), and an array index is a few times cheaper than a string-keyed
 * property (~90 ms of a 1M-record no-op run went to `move` with string phases).
 */
export const Phase = {
  /** Read; waits for its dependencies' outcomes (dependency-gate.ts). */
  waitingDeps: 0,
  /**
   * Waits for its dependencies, stored as its position alone (dependency-gate.ts): the entry has
   * left the window, and a new one is made when the record is read again.
   */
  setAside: 1,
  /** Waits for a slot: in the ready queue, a fairness key's queue, or its crash-suspect group. */
  queued: 2,
  /** An attempt runs. */
  running: 3,
  /** Waits for its next attempt (a retry delay, or the retry budget), without a slot. */
  retryWait: 4,
  /** Waits for a rate-limit token. */
  tokenWait: 5,
  /** Its last attempt failed while failures run in a row: the breaker decides whether it was an outage. */
  held: 6,
  /** Hit by an outage: waits for the breaker to close. */
  parked: 7,
  /** The run stopped before it finished: no outcome, the next run processes it again. */
  pending: 8,
  /** Has its outcome (succeeded, failed or skipped). */
  done: 9,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** A failed attempt as its record keeps it until its outcome: an AttemptRecord whose error is serialised on demand. */
export interface FailedAttempt {
  readonly attempt: number;
  readonly durationMs: number;
  readonly error: LazySerializedError;
  /** The wait before the next attempt, when there was one. */
  readonly delayMs?: number;
}

/** What only a record that failed an attempt needs; not allocated for first-time successes. */
export interface RetryState {
  previousDelayMs: number;
  /** Cancels the timer of the wait the record is in (retry delay, budget, token). */
  cancelRetry: (() => void) | undefined;
  /** Its failed attempts, oldest first; `storedHistory` makes what an outcome stores of them. */
  readonly history: FailedAttempt[];
  /** Errors of `history` counted as held unserialised by the executor (record-executor.ts, MAX_HELD_ERRORS). */
  heldErrors?: number;
  /** The retry budget held this retry back at least once. */
  deferred?: boolean;
}

/** A record read and not finished. */
export interface OpenRecord {
  readonly key: string;
  readonly position: SourcePosition;
  /** The record itself; dropped once it has an outcome, since a finished entry may linger in the window. */
  record: unknown;
  phase: Phase;
  /** Calls of the handler for this record in this run: `ctx.attempt` of the last one (never reset). */
  attempt: number;
  /**
   * The calls that count against `maxAttempts`: reset when the breaker closes after an outage parked
   * the record, so that the outage does not use them up (`attempt` goes on counting, so every call
   * has its own number).
   */
  counted: number;
  /**
   * The breaker parked the record after it had been called, then released it: its attempts started
   * over, and its failures are no new evidence for the breaker (they were counted for the trip).
   */
  released: boolean;
  /** Bumped when an attempt ends; a result carrying an older generation is late and discarded. */
  generation: number;
  attemptStartedAtMs: number;
  firstAttemptAtMs: number;
  ctx: AttemptContext | undefined;
  retry: RetryState | undefined;
  /** Dependencies that failed, for a record run anyway (`onDependencyFailure: 'run'`). */
  failedDependencies: readonly string[];
  /** The record's rate-limit key (`rateLimitKey`), when the job has one. */
  rateKey: string | undefined;
  /** The record's fairness key (`concurrencyKey`), when the job has one. */
  fairKey: string | undefined;
  /** Where the entry is in the executor's list of running attempts; -1 when not running. */
  runningAt: number;
  /** The record's `ctx.step` calls in this run, by name, whichever attempt made them (durable-step.ts). */
  stepCalls: StepCalls | undefined;
}

const NO_KEYS: readonly string[] = Object.freeze([]);

export function openRecord(key: string, position: SourcePosition, record: unknown): OpenRecord {
  return {
    key,
    position,
    record,
    phase: Phase.queued,
    attempt: 0,
    counted: 0,
    released: false,
    generation: 0,
    attemptStartedAtMs: 0,
    firstAttemptAtMs: 0,
    ctx: undefined,
    retry: undefined,
    failedDependencies: NO_KEYS,
    rateKey: undefined,
    fairKey: undefined,
    runningAt: -1,
    stepCalls: undefined,
  };
}

/** The retry state of a record, created on first need. */
export function retryState(entry: OpenRecord): RetryState {
  return (entry.retry ??= { previousDelayMs: 0, cancelRetry: undefined, history: [] });
}

/** The record's failed attempts as its outcome stores them (their errors serialised now); undefined when none failed. */
export function storedHistory(entry: OpenRecord): AttemptRecord[] | undefined {
  const history = entry.retry?.history;
  if (history === undefined) return undefined;
  const stored = new Array<AttemptRecord>(history.length);
  for (let i = 0; i < history.length; i++) {
    const { attempt, durationMs, error, delayMs } = history[i] as FailedAttempt;
    stored[i] = delayMs === undefined ? { attempt, durationMs, error: error.value } : { attempt, durationMs, error: error.value, delayMs };
  }
  return stored;
}

/** Whether the record has its outcome (for the crash guard). */
export function isDone(entry: OpenRecord): boolean {
  return entry.phase === Phase.done;
}

/**
 * Whether the entry no longer holds the window: it has its outcome, or it was set aside (the
 * dependency gate then holds the watermark at its position, until the record has its outcome).
 */
export function leftWindow(entry: OpenRecord): boolean {
  return entry.phase === Phase.done || entry.phase === Phase.setAside;
}
