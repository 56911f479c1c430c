import { describe, expect, it } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { BreakerState, CircuitBreaker, resolveBreaker, type BreakerOptions, type Signal } from './breaker.js';

const OK: Signal = { ok: true };
const fail = (fingerprint = 'fp-outage'): Signal => ({ ok: false, fingerprint });

function breaker(options: BreakerOptions = {}): CircuitBreaker {
  return new CircuitBreaker(resolveBreaker(options));
}

/** Feeds `signals` at `nowMs`; returns the index (0-based) of the one that tripped, or -1. */
function feed(b: CircuitBreaker, signals: readonly Signal[], nowMs = 1000): number {
  for (let i = 0; i < signals.length; i++) if (b.record(signals[i] as Signal, nowMs)) return i;
  return -1;
}

const times = (n: number, signal: Signal): Signal[] => Array.from({ length: n }, () => signal);

describe('resolveBreaker', () => {
  it('has the documented defaults, frozen', () => {
    const resolved = resolveBreaker(undefined);
    expect(resolved).toEqual({
      consecutiveFailures: 20, failureRate: 0.5, windowRecords: 100, minRecords: 20, dominantShare: 0.8,
      probeSuccesses: 3, probeDelayMs: 1000, maxProbeDelayMs: 30_000, maxOpenMs: 600_000, enabled: true,
    });
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolveBreaker({ consecutiveFailures: 5, maxOpenMs: 3000 })).toMatchObject({ consecutiveFailures: 5, maxOpenMs: 3000, failureRate: 0.5 });
    expect(Object.isFrozen(resolveBreaker({ minRecords: 1 }))).toBe(true);
  });

  it.each<[unknown, string, string]>([
    [5, 'breaker must be an object of breaker options; got 5', 'breaker'],
    [null, 'breaker must be an object of breaker options; got null', 'breaker'],
    ['on', 'breaker must be an object of breaker options; got "on"', 'breaker'],
    [{ consecutiveFailure: 3 }, 'breaker.consecutiveFailure is not a known option (did you mean "consecutiveFailures"?)', 'breaker.consecutiveFailure'],
    [{ consecutiveFailures: 0 }, 'breaker.consecutiveFailures must be an integer ≥ 1; got 0', 'breaker.consecutiveFailures'],
    [{ windowRecords: 2.5 }, 'breaker.windowRecords must be an integer ≥ 1; got 2.5', 'breaker.windowRecords'],
    [{ minRecords: -1 }, 'breaker.minRecords must be an integer ≥ 1; got -1', 'breaker.minRecords'],
    [{ probeSuccesses: '3' }, 'breaker.probeSuccesses must be an integer ≥ 1; got "3"', 'breaker.probeSuccesses'],
    [{ failureRate: 0 }, 'breaker.failureRate must be a fraction in (0, 1]; got 0', 'breaker.failureRate'],
    [{ failureRate: 1.5 }, 'breaker.failureRate must be a fraction in (0, 1]; got 1.5', 'breaker.failureRate'],
    [{ dominantShare: -0.1 }, 'breaker.dominantShare must be a fraction in (0, 1]; got -0.1', 'breaker.dominantShare'],
    [{ probeDelayMs: 0 }, 'breaker.probeDelayMs must be a number of milliseconds > 0; got 0', 'breaker.probeDelayMs'],
    [{ maxProbeDelayMs: '30s' }, 'breaker.maxProbeDelayMs must be a number of milliseconds > 0; got "30s"', 'breaker.maxProbeDelayMs'],
    [{ maxOpenMs: -5 }, 'breaker.maxOpenMs must be a number of milliseconds > 0; got -5', 'breaker.maxOpenMs'],
    [{ minRecords: 30, windowRecords: 20 }, 'breaker.minRecords (30) cannot exceed breaker.windowRecords (20)', 'breaker.minRecords'],
    [{ enabled: 'yes' }, 'breaker.enabled must be true or false; got "yes"', 'breaker.enabled'],
  ])('rejects %j naming the field', (input, message, field) => {
    const error = configError(() => resolveBreaker(input as BreakerOptions));
    expect(error.message).toContain(message);
    expect(error.field).toBe(field);
  });

  it('shows Infinity and NaN as themselves in its messages, not as JSON null', () => {
    // JSON.stringify(Infinity) is "null": "maxOpenMs … got null" would hide what the user wrote.
    expect(configError(() => resolveBreaker({ maxOpenMs: Infinity })).message).toBe('breaker.maxOpenMs must be a number of milliseconds > 0; got Infinity');
    expect(configError(() => resolveBreaker({ failureRate: NaN })).message).toBe('breaker.failureRate must be a fraction in (0, 1]; got NaN');
  });

  it('names the field it was given', () => {
    expect(configError(() => resolveBreaker({ failureRate: 2 }, 'job.breaker')).message).toBe('job.breaker.failureRate must be a fraction in (0, 1]; got 2');
  });

  it('accepts the boundaries: failureRate 1, dominantShare 1, minRecords = windowRecords', () => {
    expect(resolveBreaker({ failureRate: 1, dominantShare: 1, minRecords: 7, windowRecords: 7 })).toMatchObject({ failureRate: 1, dominantShare: 1, minRecords: 7, windowRecords: 7 });
  });
});

describe('CircuitBreaker: tripping', () => {
  it('trips on the Nth systemic failure in a row, with its description and figures', () => {
    const b = breaker({ consecutiveFailures: 3 });
    expect(b.record(fail(), 500)).toBeUndefined();
    expect(b.record(fail(), 600)).toBeUndefined();
    expect(b.state).toBe(BreakerState.closed);
    const trip = b.record(fail('fp-last'), 700);
    expect(trip).toEqual({
      reason: 'consecutive-failures', description: '3 attempts in a row failed with retryable errors or timeouts',
      fingerprint: 'fp-last', failures: 3, window: 3,
    });
    expect(b.state).toBe(BreakerState.open);
    expect(b.trip).toBe(trip);
    expect(b.trips).toBe(1);
    expect(b.openedAt).toBe(700);
  });

  it('a success breaks the run of failures', () => {
    const b = breaker({ consecutiveFailures: 3 });
    expect(feed(b, [fail(), fail(), OK, fail(), fail(), OK, fail(), fail()])).toBe(-1);
    expect(b.state).toBe(BreakerState.closed);
    expect(feed(b, [fail()])).toBe(0);
  });

  it('trips on the failure rate once the window holds minRecords, even on a success', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 100, minRecords: 20, failureRate: 0.5 });
    // 10 failures in a row: 100% but only 10 attempts, below minRecords.
    expect(feed(b, [...times(5, fail('a')), ...times(5, fail('b')), fail('a')])).toBe(-1);
    // 11 failures of 19 so far; the 20th attempt (a success) makes 11/20 = 55%.
    expect(feed(b, times(8, OK))).toBe(-1);
    const trip = b.record(OK, 2000);
    expect(trip).toEqual({
      reason: 'failure-rate', description: '11 of the last 20 attempts failed (55% ≥ 50%)',
      fingerprint: 'a', failures: 11, window: 20,
    });
    expect(b.openedAt).toBe(2000);
  });

  it('trips at exactly the failure rate', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 10, minRecords: 10, failureRate: 0.5 });
    const alternating = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? fail(i % 4 === 0 ? 'x' : 'y') : OK));
    expect(feed(b, alternating)).toBe(9);
    expect(b.trip).toMatchObject({ reason: 'failure-rate', description: '5 of the last 10 attempts failed (50% ≥ 50%)', fingerprint: 'x', failures: 5, window: 10 });
  });

  it('computes the rate over the last windowRecords attempts only (old failures roll out)', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 10, minRecords: 10, failureRate: 0.5 });
    // 4 of 10 failed, then 10 successes push them out of the window.
    expect(feed(b, [...times(4, fail()), ...times(6, OK), ...times(10, OK)])).toBe(-1);
    // 4 new failures: 4/10 again (8/10 if the old ones were still counted).
    expect(feed(b, times(4, fail()))).toBe(-1);
    expect(feed(b, [fail()])).toBe(0);
    expect(b.trip).toMatchObject({ reason: 'failure-rate', failures: 5, window: 10 });
  });

  it('trips when one error dominates the recent failures', () => {
    const b = breaker({ consecutiveFailures: 1000, failureRate: 0.9, windowRecords: 100, minRecords: 20, dominantShare: 0.8 });
    expect(feed(b, times(40, OK))).toBe(-1);
    // 19 failures: fewer than minRecords.
    expect(feed(b, times(19, fail('fp-db')))).toBe(-1);
    const trip = b.record(fail('fp-db'), 3000);
    expect(trip).toEqual({
      reason: 'dominant-error', description: '20 of the last 20 failures share one error (fp-db)',
      fingerprint: 'fp-db', failures: 20, window: 60,
    });
  });

  it('counts dominance as a share: 16 of 20 (80%) trips, 15 of 20 does not', () => {
    const options = { consecutiveFailures: 1000, failureRate: 0.9, windowRecords: 100, minRecords: 20, dominantShare: 0.8 };
    const mixed = (main: number): Signal[] => [...times(main, fail('main')), ...times(20 - main, fail('other'))];
    const below = breaker(options);
    expect(feed(below, [...times(40, OK), ...mixed(15)])).toBe(-1);
    const at = breaker(options);
    expect(feed(at, [...times(40, OK), ...mixed(16)])).toBe(59);
    expect(at.trip).toMatchObject({ reason: 'dominant-error', description: '16 of the last 20 failures share one error (main)', fingerprint: 'main' });
  });

  it('ignores a dominant error below a quarter of the window', () => {
    const b = breaker({ consecutiveFailures: 1000, failureRate: 0.9, windowRecords: 100, minRecords: 20, dominantShare: 0.8 });
    // 20 of 100 (20%), then each further failure evicts a success: 21%, 22%, 23%, 24% …
    expect(feed(b, [...times(80, OK), ...times(24, fail('fp-x'))])).toBe(-1);
    // … and 25 of 100 is a quarter: it trips.
    const trip = b.record(fail('fp-x'), 4000);
    expect(trip).toEqual({ reason: 'dominant-error', description: '25 of the last 25 failures share one error (fp-x)', fingerprint: 'fp-x', failures: 25, window: 100 });
  });

  it('a 3% stream of record errors never trips the defaults (fatal ones are not signals at all)', () => {
    const b = breaker();
    let tripped = false;
    for (let id = 0; id < 10_000; id++) {
      // What the engine feeds for a job whose records 0, 1 and 2 of every hundred are bad: a
      // FatalError is neutral, so nothing is recorded for them; every other record succeeds.
      if (id % 100 < 3) continue;
      tripped ||= b.record(OK, id) !== undefined;
    }
    expect(tripped).toBe(false);
    expect(b.trips).toBe(0);
  });

  it('even a 3% stream of systemic errors in bursts of 3 stays under every default threshold', () => {
    const b = breaker();
    for (let id = 0; id < 10_000; id++) expect(b.record(id % 100 < 3 ? fail('fp-blip') : OK, id)).toBeUndefined();
    expect(b.trips).toBe(0);
  });

  it('does nothing when disabled', () => {
    const b = breaker({ enabled: false, consecutiveFailures: 1 });
    expect(feed(b, times(500, fail()))).toBe(-1);
    expect(b.state).toBe(BreakerState.closed);
    expect(b.trips).toBe(0);
    expect(b.expired(Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('ignores signals while open or half-open', () => {
    const b = breaker({ consecutiveFailures: 2 });
    expect(feed(b, times(2, fail()), 100)).toBe(1);
    expect(feed(b, times(10, fail()), 200)).toBe(-1);
    b.halfOpen();
    expect(feed(b, times(10, fail()), 300)).toBe(-1);
    expect(b.trips).toBe(1);
    expect(b.openedAt).toBe(100);
  });
});

describe('CircuitBreaker: probing and closing', () => {
  const options = { consecutiveFailures: 2, probeSuccesses: 3, probeDelayMs: 100, maxProbeDelayMs: 700, maxOpenMs: 5000 };

  it('closes after probeSuccesses successful probes in a row, and forgets the old window', () => {
    const b = breaker(options);
    feed(b, times(2, fail()), 1000);
    expect(b.nextProbeDelayMs()).toBe(100);
    b.halfOpen();
    expect(b.state).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.closed);
    expect(b.expired(1_000_000)).toBe(false);
    // Closed with a clean slate: one failure does not trip (the two before it were forgotten).
    expect(b.record(fail(), 2000)).toBeUndefined();
    expect(b.record(fail(), 2001)).toMatchObject({ reason: 'consecutive-failures' });
    expect(b.trips).toBe(2);
    expect(b.openedAt).toBe(2001);
  });

  it('a failed probe reopens, resets the run of successes and doubles the delay', () => {
    const b = breaker(options);
    feed(b, times(2, fail()), 1000);
    b.halfOpen();
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(false)).toBe(BreakerState.open);
    expect(b.nextProbeDelayMs()).toBe(200);
    b.halfOpen();
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.closed);
  });

  it('doubles the probe delay up to maxProbeDelayMs, and starts over at the next trip', () => {
    const b = breaker(options);
    feed(b, times(2, fail()), 1000);
    const delays = [b.nextProbeDelayMs()];
    for (let i = 0; i < 5; i++) {
      b.halfOpen();
      b.probe(false);
      delays.push(b.nextProbeDelayMs());
    }
    expect(delays).toEqual([100, 200, 400, 700, 700, 700]);
    // Failed probes do not move the time it opened: maxOpenMs counts from the trip.
    expect(b.openedAt).toBe(1000);
    b.halfOpen();
    for (let i = 0; i < 3; i++) b.probe(true);
    expect(b.state).toBe(BreakerState.closed);
    feed(b, times(2, fail()), 9000);
    expect(b.nextProbeDelayMs()).toBe(100);
  });

  it('expired(): open (or half-open) for maxOpenMs since the trip', () => {
    const b = breaker(options);
    expect(b.expired(1_000_000)).toBe(false);
    feed(b, times(2, fail()), 1000);
    expect(b.expired(5999)).toBe(false);
    expect(b.expired(6000)).toBe(true);
    b.halfOpen();
    expect(b.expired(5999)).toBe(false);
    expect(b.expired(6000)).toBe(true);
    b.probe(false);
    expect(b.expired(6000)).toBe(true);
  });
});
