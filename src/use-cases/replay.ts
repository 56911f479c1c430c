/**
 * One record through the handler in the foreground, with the job's retry policy and real time, for
 * `batchguard replay`. Uses the same executor as a run, so what you see is what a run would do.
 */
import { systemClock } from '../clock.js';
import type { Job } from '../job.js';
import type { SourcePosition } from '../sources/source.js';
import { EngineEvents, type EventListener } from '../engine/events.js';
import type { Outcome } from '../domain/outcome.js';
import { openRecord } from '../engine/open-record.js';
import { RecordExecutor } from '../engine/record-executor.js';

export interface ReplayResult {
  readonly outcome: Outcome;
  readonly attempts: number;
}

export function replayRecord(
  job: Job<any, any>,
  record: unknown,
  key: string,
  position: SourcePosition,
  onEvent: EventListener,
): Promise<ReplayResult> {
  return new Promise((resolve) => {
    const events = new EngineEvents([{ name: 'the onEvent listener', listener: onEvent }]);
    const stats = { attempts: 0, retries: 0, retriesDeferred: 0, parkedAttempts: 0 };
    const entry = openRecord(key, position, record);
    let cancelSweep = (): void => {};
    const settle = (outcome: Outcome): void => {
      cancelSweep();
      resolve({ outcome, attempts: stats.attempts });
    };
    const executor = new RecordExecutor({
      job,
      clock: systemClock,
      random: Math.random,
      events,
      stats,
      // One record, no slots to account for.
      move: (moved, phase) => (moved.phase = phase),
      onSucceeded: (done, value) => {
        settle({ status: 'succeeded', key, position, attempts: done.attempt, value });
        return true;
      },
      onOutcome: (_done, outcome) => settle(outcome),
      stopping: () => false,
      // One record in the foreground: no breaker to trip, no budget to share.
      budget: undefined,
      breaker: { closed: true, isProbe: () => false, succeeded: () => {}, systemicFailure: () => false, hold: () => false },
      onParked: () => {},
    });
    const sweepEveryMs = Math.min(1000, Math.max(1, job.timeoutMs / 10));
    const sweep = (): void => {
      executor.sweep();
      cancelSweep = systemClock.timer(sweepEveryMs, sweep);
    };
    cancelSweep = systemClock.timer(sweepEveryMs, sweep);
    executor.attempt(entry);
  });
}
