/**
 * The job-level circuit breaker: a pure state machine over attempt outcomes and time. It trips on
 * a run of consecutive systemic failures, on a failure rate over a window of recent attempts, or
 * when one error dominates the recent failures; then it waits, probes, and closes only after
 * several successful probes in a row.
 *
 * "Systemic" here means a failed attempt classified retryable, or timed out. Fatal, record-specific
 * errors (validation, bad data) are the run's failure-rate business, not the breaker's: they are
 * neither a success nor a failure to it.
 */
import { ConfigError } from '../errors.js';
import { checkKnownFields } from '../options-check.js';
import { formatValue } from './validate.js';

export interface BreakerOptions {
  /** Trip after this many systemic failures in a row. @default 20 */
  consecutiveFailures?: number;
  /** Trip when at least this share of the recent attempts failed systemically. @default 0.5 */
  failureRate?: number;
  /** How many recent attempts the rate is computed over. @default 100 */
  windowRecords?: number;
  /** No rate or dominance trip before the window holds this many attempts. @default 20 */
  minRecords?: number;
  /**
   * Trip when one error fingerprint makes up at least this share of the recent failures, and those
   * failures are at least a quarter of the window (a dominant error at a 2% failure rate is not an
   * outage). @default 0.8
   */
  dominantShare?: number;
  /** Successful probes in a row needed to close again. @default 3 */
  probeSuccesses?: number;
  /** First wait before probing; doubles after each failed probe, up to `maxProbeDelayMs`. @default 1000 */
  probeDelayMs?: number;
  /** @default 30000 */
  maxProbeDelayMs?: number;
  /** Abort the run (exit code 3, resumable) when the breaker has stayed open this long. @default 600000 */
  maxOpenMs?: number;
  /** `false` turns the breaker off. @default true */
  enabled?: boolean;
}

export type ResolvedBreaker = Readonly<Required<BreakerOptions>>;

const DEFAULTS: ResolvedBreaker = Object.freeze({
  consecutiveFailures: 20, failureRate: 0.5, windowRecords: 100, minRecords: 20, dominantShare: 0.8,
  probeSuccesses: 3, probeDelayMs: 1000, maxProbeDelayMs: 30_000, maxOpenMs: 600_000, enabled: true,
});

export function resolveBreaker(input: BreakerOptions | undefined, field = 'breaker'): ResolvedBreaker {
  if (input === undefined) return DEFAULTS;
  if (input === null || typeof input !== 'object') throw new ConfigError(`${field} must be an object of breaker options; got ${formatValue(input)}`, { field });
  checkKnownFields(input, Object.keys(DEFAULTS), field);
  const merged = { ...DEFAULTS, ...input };
  const positiveInt = ['consecutiveFailures', 'windowRecords', 'minRecords', 'probeSuccesses'] as const;
  for (const name of positiveInt) {
    const value = merged[name];
    if (!Number.isInteger(value) || value < 1) throw new ConfigError(`${field}.${name} must be an integer ≥ 1; got ${formatValue(value)}`, { field: `${field}.${name}` });
  }
  for (const name of ['failureRate', 'dominantShare'] as const) {
    const value = merged[name];
    if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw new ConfigError(`${field}.${name} must be a fraction in (0, 1]; got ${formatValue(value)}`, { field: `${field}.${name}` });
  }
  for (const name of ['probeDelayMs', 'maxProbeDelayMs', 'maxOpenMs'] as const) {
    const value = merged[name];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) throw new ConfigError(`${field}.${name} must be a number of milliseconds > 0; got ${formatValue(value)}`, { field: `${field}.${name}` });
  }
  if (merged.minRecords > merged.windowRecords) throw new ConfigError(`${field}.minRecords (${merged.minRecords}) cannot exceed ${field}.windowRecords (${merged.windowRecords})`, { field: `${field}.minRecords` });
  if (typeof merged.enabled !== 'boolean') throw new ConfigError(`${field}.enabled must be true or false; got ${formatValue(merged.enabled)}`, { field: `${field}.enabled` });
  return Object.freeze(merged);
}

export const BreakerState = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** Why the breaker opened, with the figures that made it. */
export interface Trip {
  readonly reason: 'consecutive-failures' | 'failure-rate' | 'dominant-error';
  readonly description: string;
  readonly fingerprint: string | undefined;
  readonly failures: number;
  readonly window: number;
}

/** An attempt outcome as the breaker sees it: a success, or a systemic failure with its fingerprint. */
export type Signal = { readonly ok: true } | { readonly ok: false; readonly fingerprint: string };

export class CircuitBreaker {
  private stateNow: BreakerState = BreakerState.closed;
  private consecutive = 0;
  /** Ring of recent outcomes: '' for a success, the fingerprint for a failure. */
  private readonly ring: string[] = [];
  private ringStart = 0;
  private failuresInRing = 0;
  private openedAtMs = 0;
  private probeDelay: number;
  private probesOk = 0;
  private lastTrip: Trip | undefined;
  trips = 0;

  constructor(private readonly options: ResolvedBreaker) {
    this.probeDelay = options.probeDelayMs;
  }

  get state(): BreakerState {
    return this.stateNow;
  }

  /** Systemic failures in a row right now. */
  get failuresInARow(): number {
    return this.consecutive;
  }

  get trip(): Trip | undefined {
    return this.lastTrip;
  }

  /** When the breaker opened (ms), while it is open or half-open. */
  get openedAt(): number {
    return this.openedAtMs;
  }

  /**
   * Feeds one attempt outcome while closed; returns the trip when this one opens the breaker. The
   * clock is read only when the breaker opens: this runs once per attempt.
   */
  record(signal: Signal, now: number | { now(): number }): Trip | undefined {
    if (!this.options.enabled || this.stateNow !== BreakerState.closed) return undefined;
    // The common case: a success while the window is full of successes changes nothing but the run.
    if (signal.ok && this.failuresInRing === 0 && this.ring.length === this.options.windowRecords) {
      this.consecutive = 0;
      return undefined;
    }
    this.push(signal.ok ? '' : signal.fingerprint);
    this.consecutive = signal.ok ? 0 : this.consecutive + 1;
    const trip = this.check(signal);
    if (trip) this.open(trip, typeof now === 'number' ? now : now.now());
    return trip;
  }

  /** How long to wait before the next probe. */
  nextProbeDelayMs(): number {
    return this.probeDelay;
  }

  /** The breaker starts probing. */
  halfOpen(): void {
    this.stateNow = BreakerState.halfOpen;
  }

  /** A probe's result. Returns the new state (closed after enough successes in a row). */
  probe(ok: boolean): BreakerState {
    if (ok) {
      this.probesOk++;
      if (this.probesOk >= this.options.probeSuccesses) this.close();
      return this.stateNow;
    }
    this.probesOk = 0;
    this.probeDelay = Math.min(this.options.maxProbeDelayMs, this.probeDelay * 2);
    this.stateNow = BreakerState.open;
    return this.stateNow;
  }

  /** True when the breaker has been open longer than `maxOpenMs`. */
  expired(nowMs: number): boolean {
    return this.stateNow !== BreakerState.closed && nowMs - this.openedAtMs >= this.options.maxOpenMs;
  }

  private open(trip: Trip, nowMs: number): void {
    this.stateNow = BreakerState.open;
    this.lastTrip = trip;
    this.trips++;
    this.openedAtMs = nowMs;
    this.probesOk = 0;
    this.probeDelay = this.options.probeDelayMs;
  }

  private close(): void {
    this.stateNow = BreakerState.closed;
    this.consecutive = 0;
    this.ring.length = 0;
    this.ringStart = 0;
    this.failuresInRing = 0;
    this.probesOk = 0;
  }

  private push(outcome: string): void {
    const { windowRecords } = this.options;
    if (this.ring.length < windowRecords) {
      this.ring.push(outcome);
    } else {
      const evicted = this.ring[this.ringStart] as string;
      if (evicted !== '') this.failuresInRing--;
      this.ring[this.ringStart] = outcome;
      this.ringStart = (this.ringStart + 1) % windowRecords;
    }
    if (outcome !== '') this.failuresInRing++;
  }

  private check(signal: Signal): Trip | undefined {
    const o = this.options;
    const window = this.ring.length;
    const failures = this.failuresInRing;
    const fingerprint = signal.ok ? undefined : signal.fingerprint;
    if (this.consecutive >= o.consecutiveFailures) {
      return { reason: 'consecutive-failures', description: `${this.consecutive} attempts in a row failed with retryable errors or timeouts`, fingerprint, failures, window };
    }
    if (window < o.minRecords) return undefined;
    if (failures / window >= o.failureRate) {
      return { reason: 'failure-rate', description: `${failures} of the last ${window} attempts failed (${Math.round((failures / window) * 100)}% ≥ ${Math.round(o.failureRate * 100)}%)`, fingerprint: this.dominant()?.fingerprint ?? fingerprint, failures, window };
    }
    if (failures >= o.minRecords && failures / window >= 0.25) {
      const dominant = this.dominant();
      if (dominant && dominant.count / failures >= o.dominantShare) {
        return { reason: 'dominant-error', description: `${dominant.count} of the last ${failures} failures share one error (${dominant.fingerprint})`, fingerprint: dominant.fingerprint, failures, window };
      }
    }
    return undefined;
  }

  private dominant(): { fingerprint: string; count: number } | undefined {
    const counts = new Map<string, number>();
    let best: { fingerprint: string; count: number } | undefined;
    for (const outcome of this.ring) {
      if (outcome === '') continue;
      const count = (counts.get(outcome) ?? 0) + 1;
      counts.set(outcome, count);
      if (!best || count > best.count) best = { fingerprint: outcome, count };
    }
    return best;
  }
}
