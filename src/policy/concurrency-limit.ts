/**
 * The adaptive concurrency limit: how many records may be in flight now, between `min` and `max`,
 * learned from the upstream's answers (additive increase, multiplicative decrease, as TCP does
 * with its congestion window):
 *
 * - down by `backoffRatio` (by half, the first time) on a sign of overload: a timeout, a 429 or 503, or latency that rose
 *   well above its long-run level. One decrease per congestion event: answers to attempts that
 *   started before the last decrease were sent under the old limit and say nothing new;
 * - up while healthy: +1 per success until the first overload (a quick start from `min`), then
 *   +1 per `limit` successes, about one more slot per round trip;
 * - only while the limit is used: successes with fewer than half the slots busy say nothing about
 *   whether more would fit, so a slow source cannot inflate the limit.
 *
 * Pure: time comes in with each sample.
 */
import { ConfigError } from '../errors.js';
import { httpStatusOf } from './error-fields.js';
import { checkKnownKeys, formatValue } from '../validation/check.js';

/** A range for the number of records in flight; the limit adapts within it. */
export interface ConcurrencyRange {
  /** The limit never goes below this. */
  readonly min: number;
  /** Nor above this (the number of slots). */
  readonly max: number;
}

/** The most records in flight a job or a run may ask for (a fixed concurrency, or a range's max). */
export const MAX_CONCURRENCY = 10_000;

export function resolveConcurrencyRange(input: unknown, field = 'concurrency'): ConcurrencyRange {
  if (input === null || typeof input !== 'object')
    throw new ConfigError(`${field} must be an integer or a range { min, max }; got ${formatValue(input)}`, { field });
  checkKnownKeys(input, field, ['min', 'max']);
  const { min, max } = input as { min?: unknown; max?: unknown };
  for (const [name, value] of [
    ['min', min],
    ['max', max],
  ] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_CONCURRENCY) {
      throw new ConfigError(`${field}.${name} must be an integer from 1 to ${MAX_CONCURRENCY}; got ${formatValue(value)}`, {
        field: `${field}.${name}`,
      });
    }
  }
  if ((min as number) > (max as number))
    throw new ConfigError(`${field}.min (${String(min)}) cannot exceed ${field}.max (${String(max)})`, { field: `${field}.min` });
  return Object.freeze({ min: min as number, max: max as number });
}

/** What one finished attempt says about the upstream. */
export const SampleKind = {
  /** The upstream answered in time (even with a record-specific error). */
  ok: 'ok',
  /** A timeout, a 429 or a 503: too much load. */
  overload: 'overload',
  /** Says nothing about load (a fatal error of the record's own, a cancelled attempt). */
  ignore: 'ignore',
} as const;
export type SampleKind = (typeof SampleKind)[keyof typeof SampleKind];

/**
 * What a failed attempt says about load: a timeout, a 429 or a 503 is overload; any other error
 * says nothing (a 500 or a dropped connection is not a sign of too many requests in flight, and a
 * record-specific error means the upstream answered, which the caller counts as `ok` if it wants).
 */
export function failureSample(error: unknown, timedOut: boolean): SampleKind {
  if (timedOut) return SampleKind.overload;
  const status = httpStatusOf(error);
  return status === 429 || status === 503 ? SampleKind.overload : SampleKind.ignore;
}

export interface Sample {
  readonly kind: SampleKind;
  /** When the attempt started (ms, the run's clock). */
  readonly startedAtMs: number;
  /** How long it took. */
  readonly latencyMs: number;
  /** Attempts in flight when it ended, itself included. */
  readonly inFlight: number;
}

export interface ConcurrencyLimitOptions {
  /** Multiplier on a decrease. @default 0.9 */
  readonly backoffRatio?: number;
  /** Latency above this multiple of its long-run level counts as overload. @default 2 */
  readonly latencyTolerance?: number;
}

/** Why the limit last changed, for the events and the summary. */
export interface LimitChange {
  readonly limit: number;
  readonly reason: 'overload' | 'latency' | 'healthy';
}

/** Samples a moving average needs before its latency check means anything. */
const WARMUP_SAMPLES = 20;

export class ConcurrencyLimit {
  private value: number;
  private readonly backoffRatio: number;
  private readonly latencyTolerance: number;
  private slowStart = true;
  /** Attempts that started before this (ms) belong to the previous limit. */
  private lastDecreaseAtMs = Number.NEGATIVE_INFINITY;
  private shortLatency = 0;
  private longLatency = 0;
  private samples = 0;
  /** Decreases so far. */
  decreases = 0;
  /** The lowest limit reached by a decrease; undefined before the first one. */
  lowest: number | undefined;

  constructor(
    private readonly range: ConcurrencyRange,
    options: ConcurrencyLimitOptions = {},
  ) {
    this.value = range.min;
    this.backoffRatio = options.backoffRatio ?? 0.9;
    this.latencyTolerance = options.latencyTolerance ?? 2;
  }

  /** Records allowed in flight now: an integer in [min, max]. */
  limit(): number {
    return Math.floor(this.value);
  }

  /** Feeds one finished attempt; returns the change when the (integer) limit moved. */
  onSample(sample: Sample): LimitChange | undefined {
    if (sample.kind === SampleKind.ignore) return undefined;
    const before = this.limit();
    const reason = sample.kind === SampleKind.overload ? 'overload' : this.latencyRose(sample.latencyMs) ? 'latency' : 'healthy';
    if (reason !== 'healthy') {
      if (sample.startedAtMs < this.lastDecreaseAtMs) return undefined;
      // The first overload ends the quick start, which doubles the limit per round trip: it is then
      // up to twice what fits, so it halves (as TCP does). A gentle 0.9 would leave the excess
      // slots cycling through fast rejections, one decrease per round trip: a storm of 503s.
      const ratio = this.slowStart ? 0.5 : this.backoffRatio;
      this.slowStart = false;
      this.value = Math.max(this.range.min, this.value * ratio);
      this.lastDecreaseAtMs = sample.startedAtMs + sample.latencyMs;
      this.decreases++;
      this.lowest = Math.min(this.lowest ?? Number.POSITIVE_INFINITY, this.limit());
    } else if (sample.inFlight * 2 >= this.limit()) {
      this.value = Math.min(this.range.max, this.value + (this.slowStart ? 1 : 1 / this.value));
    }
    const after = this.limit();
    return after === before ? undefined : { limit: after, reason };
  }

  /** Short- and long-run moving averages of latency; true when the short one rose past tolerance. */
  private latencyRose(latencyMs: number): boolean {
    this.samples++;
    if (this.samples === 1) {
      this.shortLatency = latencyMs;
      this.longLatency = latencyMs;
      return false;
    }
    this.shortLatency += (latencyMs - this.shortLatency) / 10;
    this.longLatency += (latencyMs - this.longLatency) / 100;
    return this.samples > WARMUP_SAMPLES && this.shortLatency > this.latencyTolerance * this.longLatency;
  }
}
