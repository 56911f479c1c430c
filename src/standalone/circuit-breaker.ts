/**
 * The circuit breaker on its own, around any async call. The decisions (when to open, what a
 * failure is, how many probes close it, how the probe delay grows) are the job breaker's policy
 * (policy/breaker.ts); this file only adds what a job's run does around it: refusing calls while
 * open, letting one probe through at a time when the probe delay has passed, and a state that can
 * be saved and restored so that the next process does not hammer a service the last one saw down.
 *
 * Each call is one record to the policy: a success, or (when its error is retryable or a timeout)
 * a systemic failure that ends it. A fatal error is neither (the service answered).
 */
import { systemClock, type Clock } from '../clock.js';
import { BreakerOpenError, ConfigError } from '../errors.js';
import {
  BreakerState,
  CircuitBreaker as BreakerPolicy,
  resolveBreaker,
  type BreakerOptions,
  type BreakerSnapshot,
  type Trip,
} from '../policy/breaker.js';
import { Classification, classifyError, type ClassifyHook } from '../policy/classify.js';
import { failureFingerprint } from '../policy/fingerprint.js';
import { serializeIdentity } from '../policy/serialize-error.js';
import { checkClock, checkFunction, checkKnownKeys, formatValue, isRecord } from '../validation/check.js';
import { checkBreakerState } from './breaker-state.js';

/** Options of a standalone breaker: the job's `breaker` options except `maxOpenMs` (which ends a run). */
export interface CircuitBreakerOptions extends Omit<BreakerOptions, 'maxOpenMs'> {
  /** Decides retryable or fatal before the built-in rules; only retryable errors and timeouts count as failures. @default undefined */
  classify?: ClassifyHook;
  /** Injected time. @default systemClock */
  clock?: Clock;
  /** A state saved by `toJSON()` to start from. @default a closed breaker */
  state?: CircuitBreakerState;
}

/** A standalone breaker's saved state: the policy's snapshot and when the next probe may run. */
export interface CircuitBreakerState extends BreakerSnapshot {
  /** While open: when a probe may run (ms since the epoch). */
  readonly nextProbeAtMs: number;
}

/** A circuit breaker around any async call. */
export interface Breaker {
  /** `closed`, `open` or `half-open`. */
  readonly state: BreakerState;
  /** Why it last opened. */
  readonly trip: Trip | undefined;
  /**
   * Calls `fn` unless the breaker is open; rejects with a `BreakerOpenError` (retryable, with
   * `retryAfterMs`) when it is. `fn`'s own result or error is passed through unchanged.
   */
  execute<T>(fn: () => T | PromiseLike<T>): Promise<T>;
  /** The state as plain data; `JSON.stringify(breaker)` uses it. */
  toJSON(): CircuitBreakerState;
  /** Takes over a saved state (validated: a `ConfigError` names what is wrong). */
  restore(state: CircuitBreakerState): void;
}

const SUCCESS = Object.freeze({ ok: true } as const);

const KEY_HINTS = { maxOpenMs: 'maxOpenMs ends a job run; a standalone breaker stays open until a probe succeeds' };

/** Builds a standalone circuit breaker; throws a `ConfigError` naming a bad option. */
export function circuitBreaker(input: CircuitBreakerOptions = {}): Breaker {
  const raw: unknown = input;
  if (!isRecord(raw))
    throw new ConfigError(`breaker options must be an object such as { consecutiveFailures: 5 }; got ${formatValue(raw)}`);
  const { classify, clock = systemClock, state, ...policyOptions } = input;
  checkKnownKeys(
    policyOptions,
    'breaker',
    Object.keys(resolveBreaker(undefined)).filter((k) => k !== 'maxOpenMs'),
    KEY_HINTS,
  );
  if (classify !== undefined) checkFunction(classify, 'breaker.classify', "a function (error) => 'retryable' | 'fatal' | undefined");
  checkClock(clock, 'breaker.clock');
  const options = resolveBreaker(policyOptions, 'breaker');
  return new StandaloneBreaker(new BreakerPolicy(options), options.enabled, clock, classify, state);
}

class StandaloneBreaker implements Breaker {
  private nextProbeAtMs = 0;
  private probing = false;

  constructor(
    private readonly policy: BreakerPolicy,
    private readonly enabled: boolean,
    private readonly clock: Clock,
    private readonly classify: ClassifyHook | undefined,
    state: CircuitBreakerState | undefined,
  ) {
    if (state !== undefined) this.restore(state);
  }

  get state(): BreakerState {
    return this.policy.state;
  }

  get trip(): Trip | undefined {
    return this.policy.trip;
  }

  async execute<T>(fn: () => T | PromiseLike<T>): Promise<T> {
    if (!this.enabled) return fn();
    const probe = this.admit();
    try {
      const value = await fn();
      // A success can complete a trip too: the window reaching minRecords with the rate already over.
      if (probe) this.probed(true);
      else this.recorded(this.policy.record(SUCCESS, this.clock));
      return value;
    } catch (error) {
      const { classification, rule } = classifyError(error, this.classify);
      const systemic = classification === Classification.retryable;
      if (probe) {
        // A record-specific error still means the service answered.
        this.probed(!systemic);
      } else if (systemic) {
        // What the fingerprint reads of the error alone: its stack is not formatted on every failure.
        const fingerprint = failureFingerprint(serializeIdentity(error), { kind: 'exhausted', rule });
        this.recorded(this.policy.record({ ok: false, fingerprint, final: true }, this.clock));
      }
      throw error;
    }
  }

  /** A call was recorded while closed: when it opened the breaker, the first probe waits the probe delay. */
  private recorded(trip: Trip | undefined): void {
    if (trip) this.nextProbeAtMs = this.clock.now() + this.policy.nextProbeDelayMs();
  }

  /** Lets the call through (true: as the probe) or throws BreakerOpenError. */
  private admit(): boolean {
    const state = this.policy.state;
    if (state === BreakerState.closed) return false;
    const waitMs = this.nextProbeAtMs - this.clock.now();
    if (this.probing || waitMs > 0) {
      const trip = this.policy.trip;
      const why = trip ? `: ${trip.description}` : '';
      throw new BreakerOpenError(
        this.probing
          ? `the circuit breaker is half-open and its probe is running${why}`
          : `the circuit breaker is open${why}; next probe in ${waitMs} ms`,
        Math.max(0, waitMs),
      );
    }
    if (state === BreakerState.open) this.policy.halfOpen();
    this.probing = true;
    return true;
  }

  private probed(ok: boolean): void {
    this.probing = false;
    if (this.policy.probe(ok) === BreakerState.open) this.nextProbeAtMs = this.clock.now() + this.policy.nextProbeDelayMs();
  }

  toJSON(): CircuitBreakerState {
    return { ...this.policy.snapshot(), nextProbeAtMs: this.nextProbeAtMs };
  }

  restore(state: CircuitBreakerState): void {
    const checked = checkBreakerState(state);
    this.policy.restore(checked);
    this.nextProbeAtMs = checked.nextProbeAtMs;
    // A probe that was running when the state was saved ended with it: the next call probes.
    this.probing = false;
  }
}
