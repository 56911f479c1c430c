/**
 * Takes one record through its attempts: call, classify, decide, wait, call again. Never throws:
 * every way a record can end is an Outcome.
 */
import type { Clock, Random } from '../clock.js';
import { TimeoutError } from '../errors.js';
import type { Job } from '../job.js';
import { FailureKind } from '../ledger/ledger.js';
import { classifyError } from '../policy/classify.js';
import { errorFingerprint } from '../policy/fingerprint.js';
import { decideRetry } from '../policy/retry.js';
import { serializeError } from '../policy/serialize-error.js';
import type { SourcePosition } from '../sources/source.js';
import { startAttempt, type RunningAttempt } from './attempt.js';
import type { EngineEvents } from './events.js';
import type { AttemptRecord, Outcome } from './outcome.js';

/** The record being processed, as the engine tracks it (shutdown reaches in through it). */
export interface InFlight {
  readonly key: string;
  readonly position: SourcePosition;
  current: RunningAttempt | undefined;
}

export interface RecordRunnerDeps {
  readonly job: Job<any, any>;
  readonly clock: Clock;
  readonly random: Random;
  readonly events: EngineEvents;
  /** Aborts backoff waits when the run stops. */
  readonly stopSignal: AbortSignal;
  /** Counts attempts and retries for the summary. */
  readonly stats: { attempts: number; retries: number };
}

export async function runRecord(deps: RecordRunnerDeps, record: unknown, entry: InFlight): Promise<Outcome> {
  const { job, clock, events, stats } = deps;
  const history: AttemptRecord[] = [];
  const firstAttemptAtMs = clock.now();
  let previousDelayMs = 0;
  const log = (message: string, fields?: Record<string, unknown>): void =>
    events.emit({ type: 'record:log', key: entry.key, message, fields });

  for (let attempt = 1; ; attempt++) {
    if (deps.stopSignal.aborted) return { status: 'pending', key: entry.key, position: entry.position, attempts: attempt - 1 };
    stats.attempts++;
    entry.current = startAttempt({
      handler: job.handler, record, key: entry.key, attempt, idempotencyKey: `${job.name}:${entry.key}`,
      position: entry.position, timeoutMs: job.timeoutMs, log, clock,
    });
    const result = await entry.current.result;
    entry.current = undefined;
    if (result.ok) return { status: 'succeeded', key: entry.key, position: entry.position, attempts: attempt, value: result.value };
    if (result.abandoned && deps.stopSignal.aborted) {
      // Aborted by shutdown, not by its own fault: no outcome, the next run does it again.
      return { status: 'pending', key: entry.key, position: entry.position, attempts: attempt };
    }
    const { classification, rule } = classifyError(result.error, job.classify);
    const decision = decideRetry(job.retry, {
      attempt, firstAttemptAtMs, nowMs: clock.now(), previousDelayMs, error: result.error, classification,
    }, deps.random);
    const serialized = serializeError(result.error);
    if (!decision.retry) {
      history.push({ attempt, durationMs: result.durationMs, error: serialized });
      const kind = result.error instanceof TimeoutError ? FailureKind.timeout
        : decision.reason === 'fatal' ? FailureKind.fatal : FailureKind.exhausted;
      const outcome: Outcome = {
        status: 'failed', key: entry.key, position: entry.position, attempts: attempt, kind, error: serialized,
        fingerprint: errorFingerprint(serialized).fingerprint, rule, history,
      };
      events.emit({ type: 'record:failed', key: entry.key, kind, attempts: attempt, error: serialized, rule });
      return outcome;
    }
    history.push({ attempt, durationMs: result.durationMs, error: serialized, delayMs: decision.delayMs });
    stats.retries++;
    events.emit({ type: 'record:retrying', key: entry.key, attempt, delayMs: decision.delayMs, error: serialized, rule });
    previousDelayMs = decision.delayMs;
    try {
      await clock.sleep(decision.delayMs, deps.stopSignal);
    } catch {
      return { status: 'pending', key: entry.key, position: entry.position, attempts: attempt };
    }
  }
}
