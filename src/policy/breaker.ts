/**
 * The job-level circuit breaker: a pure state machine over attempt outcomes and time. It opens on
 * evidence of an outage, never on degradation alone:
 *
 * - a run of consecutive systemic failures (nothing at all is getting through);
 * - records failing: a share of the recently finished records ended failed after all their retries
 *   (a record that succeeds on a retry is a success here, whatever its earlier attempts did);
 * - a success rate that collapsed: almost none of the recent attempts succeeded.
 *
 * A flaky upstream that still serves most requests (40% of calls failing, retried) trips none of
 * these: slowing down (backoff, the retry budget, the concurrency limit) is the answer to that, not
 * stopping. Which error dominates the failures is a label on the trip, never a reason on its own.
 *
 * "Systemic" here means a failed attempt classified retryable, or timed out. Fatal, record-specific
 * errors (validation, bad data) are the run's failure-rate business, not the breaker's: they are
 * neither a success nor a failure to it.
 */
import { ConfigError } from '../errors.js';
import { checkKnownKeys, formatValue } from '../validation/check.js';
import { OutcomeRing } from './outcome-ring.js';
import { percent } from './percent.js';

export interface BreakerOptions {
  /** Trip after this many systemic failures in a row. @default 20 */
  consecutiveFailures?: number;
  /**
   * Trip when at least this share of the recently finished records failed with a systemic error
   * after all their attempts (records, not attempts: a success on a retry counts as a success).
   * @default 0.5
   */
  failureRate?: number;
  /**
   * Trip when fewer than this share of the recent attempts succeeded: the success rate collapsed,
   * even though some records still get through now and then. @default 0.1
   */
  minSuccessRate?: number;
  /** How many recent records (and attempts) the rates are computed over. @default 100 */
  windowRecords?: number;
  /** No rate trip before its window holds this many records (or attempts). @default 20 */
  minRecords?: number;
  /**
   * A trip names one error as the cause when it makes up at least this share of the recent
   * failures. A label for the report only: dominance never opens the breaker. @default 0.8
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
  consecutiveFailures: 20,
  failureRate: 0.5,
  minSuccessRate: 0.1,
  windowRecords: 100,
  minRecords: 20,
  dominantShare: 0.8,
  probeSuccesses: 3,
  probeDelayMs: 1000,
  maxProbeDelayMs: 30_000,
  maxOpenMs: 600_000,
  enabled: true,
});

export function resolveBreaker(input: BreakerOptions | undefined, field = 'breaker'): ResolvedBreaker {
  if (input === undefined) return DEFAULTS;
  if (input === null || typeof input !== 'object')
    throw new ConfigError(`${field} must be an object of breaker options; got ${formatValue(input)}`, { field });
  checkKnownKeys(input, field, Object.keys(DEFAULTS));
  const merged = { ...DEFAULTS, ...input };
  const positiveInt = ['consecutiveFailures', 'windowRecords', 'minRecords', 'probeSuccesses'] as const;
  for (const name of positiveInt) {
    const value = merged[name];
    if (!Number.isInteger(value) || value < 1)
      throw new ConfigError(`${field}.${name} must be an integer ≥ 1; got ${formatValue(value)}`, { field: `${field}.${name}` });
  }
  for (const name of ['failureRate', 'dominantShare'] as const) {
    const value = merged[name];
    if (typeof value !== 'number' || !(value > 0 && value <= 1))
      throw new ConfigError(`${field}.${name} must be a fraction in (0, 1]; got ${formatValue(value)}`, { field: `${field}.${name}` });
  }
  for (const name of ['probeDelayMs', 'maxProbeDelayMs', 'maxOpenMs'] as const) {
    const value = merged[name];
    if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
      throw new ConfigError(`${field}.${name} must be a number of milliseconds > 0; got ${formatValue(value)}`, {
        field: `${field}.${name}`,
      });
  }
  if (typeof merged.minSuccessRate !== 'number' || !(merged.minSuccessRate >= 0 && merged.minSuccessRate < 1))
    throw new ConfigError(`${field}.minSuccessRate must be a fraction in [0, 1); got ${formatValue(merged.minSuccessRate)}`, {
      field: `${field}.minSuccessRate`,
    });
  if (merged.minRecords > merged.windowRecords)
    throw new ConfigError(`${field}.minRecords (${merged.minRecords}) cannot exceed ${field}.windowRecords (${merged.windowRecords})`, {
      field: `${field}.minRecords`,
    });
  if (typeof merged.enabled !== 'boolean')
    throw new ConfigError(`${field}.enabled must be true or false; got ${formatValue(merged.enabled)}`, { field: `${field}.enabled` });
  return Object.freeze(merged);
}

/** Where the breaker stands: `closed` lets records through, `open` parks them, `half-open` probes. */
export const BreakerState = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** Which rule opened the breaker (the `breaker:opened` event's and the summary's `reason`). */
export const BreakerTripReason = {
  consecutiveFailures: 'consecutive-failures',
  failureRate: 'failure-rate',
  successCollapse: 'success-collapse',
  /** Another worker of a shared run (`run --worker`) opened the run's breaker. */
  shared: 'shared',
} as const;
export type BreakerTripReason = (typeof BreakerTripReason)[keyof typeof BreakerTripReason];

/** Why the breaker opened, with the figures that made it. */
export interface Trip {
  readonly reason: BreakerTripReason;
  readonly description: string;
  /** The dominant error of the recent failures when there is one, else the failure that tripped it. */
  readonly fingerprint: string | undefined;
  /** Failures (attempts, or records for `failure-rate`) in the window that tripped it. */
  readonly failures: number;
  readonly window: number;
}

/**
 * An attempt outcome as the breaker sees it: a success (which also ends its record), or a systemic
 * failure with its fingerprint; `final` when that failure ends the record (attempts used up);
 * `provisional` when it is its record's first failure and the record will retry: on its own that
 * says nothing about records failing (a service where every record needs one retry serves them
 * all), so it counts in a run of failures but opens nothing by itself. A fingerprint given as a
 * function is called only when the failure enters the window or names a trip (a provisional one: a trip).
 */
export type Signal =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly fingerprint: string | (() => string);
      readonly final?: boolean;
      readonly provisional?: boolean;
      /** The record's first call: it had not failed before. Absent means unknown, taken as fresh. */
      readonly fresh?: boolean;
    };

export interface BreakerSnapshot {
  readonly state: BreakerState;
  readonly failuresInARow: number;
  /** Recent attempts, oldest first: '' for a success, the fingerprint for a failure. */
  readonly attempts: readonly string[];
  /** Recently finished records (calls), oldest first: true for a success. */
  readonly records: readonly boolean[];
  readonly openedAtMs: number;
  readonly probeDelayMs: number;
  readonly probesOk: number;
  /** Failed probes since the breaker last went half-open (absent in states saved before it was kept). */
  readonly probesFailed?: number;
  readonly trips: number;
  readonly trip?: Trip;
}

export class CircuitBreaker {
  private stateNow: BreakerState = BreakerState.closed;
  private consecutive = 0;
  /** Failures in the current run of failures that were not provisional: records failing again. */
  private consecutiveEvidence = 0;
  /** Failures in the current run of failures that were a record's first call. */
  private consecutiveFresh = 0;
  /** Recent attempts: '' for a success, the fingerprint for a failure. */
  private readonly attempts: OutcomeRing<string>;
  /** Recently finished records: true for a success. */
  private readonly records: OutcomeRing<boolean>;
  private openedAtMs = 0;
  private probeDelay: number;
  private probesOk = 0;
  private probesFailed = 0;
  private lastTrip: Trip | undefined;
  trips = 0;

  constructor(private readonly options: ResolvedBreaker) {
    this.probeDelay = options.probeDelayMs;
    this.attempts = new OutcomeRing(options.windowRecords, (outcome) => outcome !== '');
    this.records = new OutcomeRing(options.windowRecords, (ok) => !ok);
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
    // The common case: a success while both windows are full of successes changes nothing.
    if (signal.ok && this.attempts.failures === 0 && this.attempts.full && this.records.failures === 0 && this.records.full) {
      this.consecutive = 0;
      this.consecutiveEvidence = 0;
      this.consecutiveFresh = 0;
      return undefined;
    }
    const provisional = !signal.ok && signal.provisional === true && signal.final !== true;
    // The success rate is over the attempts that say something about records: successes, and
    // failures of records that failed before or fail for good.
    if (!provisional) this.attempts.push(signal.ok ? '' : fingerprintOf(signal.fingerprint));
    if (signal.ok || signal.final === true) this.records.push(signal.ok);
    this.consecutive = signal.ok ? 0 : this.consecutive + 1;
    this.consecutiveEvidence = signal.ok ? 0 : this.consecutiveEvidence + (provisional ? 0 : 1);
    this.consecutiveFresh = signal.ok ? 0 : this.consecutiveFresh + (signal.fresh === false ? 0 : 1);
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

  /**
   * A probe's result. Returns the new state: closed once `probeSuccesses` probes succeeded, open
   * again (the next probe later) as soon as more probes failed than succeeded. A service that is
   * down fails the first probe and stays open; one that serves most calls closes it even when a
   * probe fails now and then.
   */
  probe(ok: boolean): BreakerState {
    if (ok) this.probesOk++;
    else this.probesFailed++;
    if (this.probesOk >= this.options.probeSuccesses) {
      this.close();
    } else if (this.probesFailed > this.probesOk) {
      this.probesOk = 0;
      this.probesFailed = 0;
      this.probeDelay = Math.min(this.options.maxProbeDelayMs, this.probeDelay * 2);
      this.stateNow = BreakerState.open;
    }
    return this.stateNow;
  }

  /** True when the breaker has been open longer than `maxOpenMs`. */
  expired(nowMs: number): boolean {
    return this.stateNow !== BreakerState.closed && nowMs - this.openedAtMs >= this.options.maxOpenMs;
  }

  /** The state as plain data (see `BreakerSnapshot`). */
  /** Counts the time open from `openedAtMs` (a shared breaker's opening, by the store's clock). */
  openSince(openedAtMs: number): void {
    this.openedAtMs = openedAtMs;
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.stateNow,
      failuresInARow: this.consecutive,
      attempts: this.attempts.ordered(),
      records: this.records.ordered(),
      openedAtMs: this.openedAtMs,
      probeDelayMs: this.probeDelay,
      probesOk: this.probesOk,
      probesFailed: this.probesFailed,
      trips: this.trips,
      ...(this.lastTrip ? { trip: this.lastTrip } : {}),
    };
  }

  /** Takes over a snapshot's state (checked by the caller); windows longer than this breaker's keep their newest entries. */
  restore(snapshot: BreakerSnapshot): void {
    this.stateNow = snapshot.state;
    this.consecutive = snapshot.failuresInARow;
    // The snapshot keeps no detail of the run: it counts as evidence, as a signal without one would.
    this.consecutiveEvidence = snapshot.failuresInARow;
    this.consecutiveFresh = snapshot.failuresInARow;
    this.attempts.clear();
    for (const outcome of snapshot.attempts) this.attempts.push(outcome);
    this.records.clear();
    for (const ok of snapshot.records) this.records.push(ok);
    this.openedAtMs = snapshot.openedAtMs;
    this.probeDelay = snapshot.probeDelayMs;
    this.probesOk = snapshot.probesOk;
    this.probesFailed = snapshot.probesFailed ?? 0;
    this.trips = snapshot.trips;
    this.lastTrip = snapshot.trip;
  }

  /** Opens (on its own evidence, or as a shared breaker did: engine/shared-breaker.ts), keeping its windows. */
  open(trip: Trip, nowMs: number): void {
    this.stateNow = BreakerState.open;
    this.lastTrip = trip;
    this.trips++;
    this.openedAtMs = nowMs;
    this.probesOk = 0;
    this.probesFailed = 0;
    this.probeDelay = this.options.probeDelayMs;
  }

  /** Closes: after its own probes, or following a shared breaker that another process closed. */
  close(): void {
    this.stateNow = BreakerState.closed;
    this.consecutive = 0;
    this.consecutiveEvidence = 0;
    this.consecutiveFresh = 0;
    this.attempts.clear();
    this.records.clear();
    this.probesOk = 0;
    this.probesFailed = 0;
  }

  private check(signal: Signal): Trip | undefined {
    const o = this.options;
    // A run of first failures alone (every record retrying once) is no outage: one record at least
    // must have failed again, or for good, within the run. Nor is a run of retries alone: records
    // that fail on their own retry after the same wait, so their retries come together while the
    // records around them succeed; in an outage, records called for the first time fail too.
    if (this.consecutive >= o.consecutiveFailures && this.consecutiveEvidence > 0 && this.consecutiveFresh > 0) {
      return this.named(
        BreakerTripReason.consecutiveFailures,
        `${this.consecutive} attempts in a row failed with retryable errors or timeouts`,
        signal,
        this.consecutive,
        this.consecutive,
      );
    }
    const records = this.records.length;
    const failedRecords = this.records.failures;
    if (records >= o.minRecords && failedRecords / records >= o.failureRate) {
      return this.named(
        BreakerTripReason.failureRate,
        `${failedRecords} of the last ${records} records failed after all their attempts (${percent(failedRecords / records, 0)} ≥ ${percent(o.failureRate, 0)})`,
        signal,
        failedRecords,
        records,
      );
    }
    const attempts = this.attempts.length;
    const failedAttempts = this.attempts.failures;
    const successes = attempts - failedAttempts;
    if (attempts >= o.minRecords && successes / attempts < o.minSuccessRate) {
      return this.named(
        BreakerTripReason.successCollapse,
        `only ${successes} of the last ${attempts} attempts succeeded (${percent(successes / attempts, 0)} < ${percent(o.minSuccessRate, 0)})`,
        signal,
        failedAttempts,
        attempts,
      );
    }
    return undefined;
  }

  /** The trip, labelled with the dominant error of the recent failures when one dominates (the report names it). */
  private named(reason: Trip['reason'], description: string, signal: Signal, failures: number, window: number): Trip {
    const dominant = this.dominant();
    if (dominant && dominant.count / dominant.failures >= this.options.dominantShare) {
      return { reason, description, fingerprint: dominant.fingerprint, failures, window };
    }
    return { reason, description, fingerprint: signal.ok ? dominant?.fingerprint : fingerprintOf(signal.fingerprint), failures, window };
  }

  private dominant(): { fingerprint: string; count: number; failures: number } | undefined {
    const counts = new Map<string, number>();
    let best: { fingerprint: string; count: number } | undefined;
    for (const outcome of this.attempts.values()) {
      if (outcome === '') continue;
      const count = (counts.get(outcome) ?? 0) + 1;
      counts.set(outcome, count);
      if (!best || count > best.count) best = { fingerprint: outcome, count };
    }
    return best && { ...best, failures: this.attempts.failures };
  }
}

const fingerprintOf = (fingerprint: string | (() => string)): string => (typeof fingerprint === 'string' ? fingerprint : fingerprint());
