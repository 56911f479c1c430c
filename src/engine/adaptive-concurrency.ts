/**
 * Adaptive concurrency in a run: the limit (policy/concurrency-limit.ts) learns from every attempt
 * that ends, the dispatcher reads it at each decision, and each change is an event. Composes with
 * rate limits (a token wait holds no slot, so it is no sample either) and per-key concurrency (the
 * fairness queue hands out records while the run's limit has room).
 */
import type { Clock } from '../clock.js';
import { ConcurrencyLimit, type ConcurrencyRange, type SampleKind } from '../policy/concurrency-limit.js';
import type { EngineEvents } from './events.js';

/** The adaptive limit of a run, for the summary. */
export interface ConcurrencySummary {
  readonly min: number;
  readonly max: number;
  /** The limit when the run ended. */
  readonly limit: number;
  /** The lowest limit a decrease reached; absent when it never went down. */
  readonly lowest?: number;
  /** How many times it went down (a timeout, a 429 or 503, latency rising). */
  readonly decreases: number;
}

export class AdaptiveConcurrency {
  private readonly policy: ConcurrencyLimit;

  constructor(
    private readonly range: ConcurrencyRange,
    private readonly clock: Clock,
    private readonly events: EngineEvents,
  ) {
    this.policy = new ConcurrencyLimit(range);
  }

  /** Records allowed to hold a slot now. */
  limit(): number {
    return this.policy.limit();
  }

  /** An attempt that started at `startedAtMs` ended; `inFlight` counts it. */
  ended(kind: SampleKind, startedAtMs: number, inFlight: number): void {
    const change = this.policy.onSample({ kind, startedAtMs, latencyMs: this.clock.now() - startedAtMs, inFlight });
    if (change) this.events.emit({ type: 'concurrency:changed', limit: change.limit, reason: change.reason });
  }

  summary(): ConcurrencySummary {
    const lowest = this.policy.lowest;
    return {
      min: this.range.min,
      max: this.range.max,
      limit: this.policy.limit(),
      ...(lowest === undefined ? {} : { lowest }),
      decreases: this.policy.decreases,
    };
  }
}
