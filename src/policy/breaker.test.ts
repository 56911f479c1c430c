import { describe, expect, it } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { BreakerState, CircuitBreaker, resolveBreaker, type BreakerOptions, type Signal } from './breaker.js';

const OK: Signal = { ok: true };
const fail = (fingerprint = 'fp-outage'): Signal => ({ ok: false, fingerprint });
/** A failure that ends its record (its attempts are used up). */
const final = (fingerprint = 'fp-outage'): Signal => ({ ok: false, fingerprint, final: true });

/** A small seeded random source (mulberry32), so the statistical cases are exact. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
    expect(Object.isFrozen(resolved)).toBe(true);
    expect(resolveBreaker({ consecutiveFailures: 5, maxOpenMs: 3000 })).toMatchObject({
      consecutiveFailures: 5,
      maxOpenMs: 3000,
      failureRate: 0.5,
    });
    expect(Object.isFrozen(resolveBreaker({ minRecords: 1 }))).toBe(true);
  });

  it.each<[unknown, string, string]>([
    [5, 'breaker must be an object of breaker options; got 5', 'breaker'],
    [null, 'breaker must be an object of breaker options; got null', 'breaker'],
    ['on', 'breaker must be an object of breaker options; got "on"', 'breaker'],
    [
      { consecutiveFailure: 3 },
      'breaker.consecutiveFailure is not a known option (did you mean "consecutiveFailures"?)',
      'breaker.consecutiveFailure',
    ],
    [{ consecutiveFailures: 0 }, 'breaker.consecutiveFailures must be an integer ≥ 1; got 0', 'breaker.consecutiveFailures'],
    [{ windowRecords: 2.5 }, 'breaker.windowRecords must be an integer ≥ 1; got 2.5', 'breaker.windowRecords'],
    [{ minRecords: -1 }, 'breaker.minRecords must be an integer ≥ 1; got -1', 'breaker.minRecords'],
    [{ probeSuccesses: '3' }, 'breaker.probeSuccesses must be an integer ≥ 1; got "3"', 'breaker.probeSuccesses'],
    [{ failureRate: 0 }, 'breaker.failureRate must be a fraction in (0, 1]; got 0', 'breaker.failureRate'],
    [{ failureRate: 1.5 }, 'breaker.failureRate must be a fraction in (0, 1]; got 1.5', 'breaker.failureRate'],
    [{ minSuccessRate: 1 }, 'breaker.minSuccessRate must be a fraction in [0, 1); got 1', 'breaker.minSuccessRate'],
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
    expect(configError(() => resolveBreaker({ maxOpenMs: Infinity })).message).toBe(
      'breaker.maxOpenMs must be a number of milliseconds > 0; got Infinity',
    );
    expect(configError(() => resolveBreaker({ failureRate: NaN })).message).toBe(
      'breaker.failureRate must be a fraction in (0, 1]; got NaN',
    );
  });

  it('names the field it was given', () => {
    expect(configError(() => resolveBreaker({ failureRate: 2 }, 'job.breaker')).message).toBe(
      'job.breaker.failureRate must be a fraction in (0, 1]; got 2',
    );
  });

  it('accepts the boundaries: failureRate 1, dominantShare 1, minRecords = windowRecords', () => {
    expect(resolveBreaker({ failureRate: 1, dominantShare: 1, minRecords: 7, windowRecords: 7 })).toMatchObject({
      failureRate: 1,
      dominantShare: 1,
      minRecords: 7,
      windowRecords: 7,
    });
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
      reason: 'consecutive-failures',
      description: '3 attempts in a row failed with retryable errors or timeouts',
      fingerprint: 'fp-last',
      failures: 3,
      window: 3,
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

  it('trips on the share of finished records that failed after all their attempts, even on a success', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 100, minRecords: 20, failureRate: 0.5, minSuccessRate: 0 });
    // 11 records fail for good (each after two failed attempts): 100% of 11 records, below minRecords.
    for (let i = 0; i < 11; i++) expect(feed(b, [fail(i < 9 ? 'a' : 'b'), final(i < 9 ? 'a' : 'b')])).toBe(-1);
    // 8 records succeed: 11 of 19; the 20th record (a success) makes 11/20 = 55%.
    expect(feed(b, times(8, OK))).toBe(-1);
    const trip = b.record(OK, 2000);
    expect(trip).toEqual({
      reason: 'failure-rate',
      description: '11 of the last 20 records failed after all their attempts (55% ≥ 50%)',
      fingerprint: 'a',
      failures: 11,
      window: 20,
    });
    expect(b.openedAt).toBe(2000);
  });

  it('a record that succeeds on a retry is a success: every record failing twice then succeeding never trips', () => {
    const b = breaker({ consecutiveFailures: 1000 });
    for (let id = 0; id < 5000; id++) expect(feed(b, [fail('fp-503'), fail('fp-503'), OK])).toBe(-1);
    expect(b.trips).toBe(0);
  });

  it('a flaky upstream (40% of calls failing at random, one error) never trips the defaults', () => {
    const b = breaker();
    const random = seeded(42);
    // 16 records in flight, each retried up to 3 attempts; their attempts interleave.
    const inFlight = Array.from({ length: 16 }, () => 0);
    let failedRecords = 0;
    for (let step = 0; step < 20_000; step++) {
      const slot = Math.floor(random() * inFlight.length);
      const attempt = (inFlight[slot] as number) + 1;
      if (random() < 0.4) {
        const last = attempt === 3;
        expect(b.record({ ok: false, fingerprint: 'fp-503', final: last }, step)).toBeUndefined();
        if (last) failedRecords++;
        inFlight[slot] = last ? 0 : attempt;
      } else {
        expect(b.record(OK, step)).toBeUndefined();
        inFlight[slot] = 0;
      }
    }
    expect(failedRecords).toBeGreaterThan(0);
    expect(b.trips).toBe(0);
  });

  it('trips at exactly the record failure rate', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 10, minRecords: 10, failureRate: 0.5 });
    const alternating = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? final(i % 4 === 0 ? 'x' : 'y') : OK));
    expect(feed(b, alternating)).toBe(9);
    expect(b.trip).toMatchObject({
      reason: 'failure-rate',
      description: '5 of the last 10 records failed after all their attempts (50% ≥ 50%)',
      failures: 5,
      window: 10,
    });
  });

  it('computes the record rate over the last windowRecords records only (old failures roll out)', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 10, minRecords: 10, failureRate: 0.5, minSuccessRate: 0.01 });
    expect(feed(b, [...times(4, final()), ...times(6, OK), ...times(10, OK)])).toBe(-1);
    // 4 new failed records: 4/10 again (8/10 if the old ones were still counted).
    expect(feed(b, times(4, final()))).toBe(-1);
    expect(feed(b, [final()])).toBe(0);
    expect(b.trip).toMatchObject({ reason: 'failure-rate', failures: 5, window: 10 });
  });

  it('trips when the success rate of the attempts collapses, though some still get through', () => {
    const b = breaker({ consecutiveFailures: 1000, windowRecords: 100, minRecords: 20 });
    expect(feed(b, times(100, OK))).toBe(-1);
    // 19 failures and one success, over and over (5%), no record failing for good: each attempt
    // evicts an old success; the 95th attempt leaves 5 old + 4 new successes, 9 of 100.
    const degraded = Array.from({ length: 20 }, (_, i) => (i === 19 ? OK : fail('fp-refused')));
    for (let round = 0; round < 4; round++) expect(feed(b, degraded)).toBe(-1);
    expect(feed(b, degraded)).toBe(14);
    expect(b.trip).toEqual({
      reason: 'success-collapse',
      description: 'only 9 of the last 100 attempts succeeded (9% < 10%)',
      fingerprint: 'fp-refused',
      failures: 91,
      window: 100,
    });
  });

  it('one dominant error among failures at a low failure rate is a label, not a trip', () => {
    const b = breaker();
    // 26% of attempts fail, all with the same error, retried: the old rule tripped on this.
    const random = seeded(7);
    for (let i = 0; i < 10_000; i++) expect(b.record(random() < 0.26 ? fail('fp-503') : OK, i)).toBeUndefined();
    expect(b.trips).toBe(0);
  });

  it('names the failure that tripped it when no error dominates', () => {
    const b = breaker({ consecutiveFailures: 4, dominantShare: 0.8 });
    expect(feed(b, [fail('a'), fail('b'), fail('a'), fail('b')])).toBe(3);
    expect(b.trip).toEqual({
      reason: 'consecutive-failures',
      description: '4 attempts in a row failed with retryable errors or timeouts',
      fingerprint: 'b',
      failures: 4,
      window: 4,
    });
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

  it('reopens as soon as more probes failed than succeeded, counting afresh and doubling the delay', () => {
    const b = breaker(options);
    feed(b, times(2, fail()), 1000);
    b.halfOpen();
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(false)).toBe(BreakerState.halfOpen);
    expect(b.probe(false)).toBe(BreakerState.open);
    expect(b.nextProbeDelayMs()).toBe(200);
    // The next round starts from nothing: its first probe failing reopens at once.
    b.halfOpen();
    expect(b.probe(false)).toBe(BreakerState.open);
    expect(b.nextProbeDelayMs()).toBe(400);
    b.halfOpen();
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.closed);
  });

  it('a service serving most calls closes it though a probe fails now and then', () => {
    const b = breaker(options);
    feed(b, times(2, fail()), 1000);
    b.halfOpen();
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.halfOpen);
    expect(b.probe(false)).toBe(BreakerState.halfOpen);
    expect(b.probe(true)).toBe(BreakerState.closed);
    expect(b.nextProbeDelayMs()).toBe(100);
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

describe('provisional failures (a first failure its record will retry)', () => {
  const first = (fingerprint = 'fp-outage'): Signal => ({ ok: false, fingerprint, provisional: true });

  it('any number of them in a row opens nothing: every record retrying once is no outage', () => {
    const b = breaker({ consecutiveFailures: 8, minRecords: 10 });
    expect(feed(b, times(500, first()))).toBe(-1);
    expect(b.failuresInARow).toBe(500);
    expect(b.state).toBe(BreakerState.closed);
  });

  it('one record failing again within the run of failures opens it on consecutiveFailures', () => {
    const b = breaker({ consecutiveFailures: 8, minRecords: 10 });
    expect(feed(b, [...times(12, first()), fail()])).toBe(12);
    expect(b.trip).toMatchObject({ reason: 'consecutive-failures', failures: 13 });
  });

  it('a success ends the run: a failure again after it needs the whole run anew', () => {
    const b = breaker({ consecutiveFailures: 8, minRecords: 50, windowRecords: 50 });
    expect(feed(b, [...times(5, first()), fail(), OK, ...times(7, first())])).toBe(-1);
    expect(feed(b, [fail()])).toBe(0);
  });

  it('they do not count in the success rate: only attempts that say something about records do', () => {
    const b = breaker({ consecutiveFailures: 1000, minRecords: 20, windowRecords: 100, minSuccessRate: 0.1 });
    // 50 first failures, then every retry succeeds: 0 of 50 attempts succeeded, yet all records do.
    expect(feed(b, [...times(50, first()), ...times(50, OK)])).toBe(-1);
    // Retries that fail as well are evidence: 19 of them after 1 success is a collapse.
    expect(feed(b, times(200, fail()))).toBeGreaterThan(0);
    expect(b.trip?.reason).toBe('success-collapse');
  });

  it('a fingerprint given as a function is computed only when it enters the window or names a trip', () => {
    const b = breaker({ consecutiveFailures: 4, minRecords: 100, windowRecords: 100, dominantShare: 1 });
    const computed: string[] = [];
    const lazy = (fingerprint: string, provisional: boolean): Signal => ({
      ok: false,
      fingerprint: () => {
        computed.push(fingerprint);
        return fingerprint;
      },
      provisional,
    });
    expect(feed(b, [lazy('fp-a', true), OK, lazy('fp-b', true)])).toBe(-1);
    expect(computed).toEqual([]);
    // Failures again enter the window; the one that trips names it (no error dominates the window).
    expect(feed(b, [lazy('fp-c', false), lazy('fp-d', false), lazy('fp-e', true)])).toBe(2);
    expect(computed).toEqual(['fp-c', 'fp-d', 'fp-e']);
    expect(b.trip).toMatchObject({ reason: 'consecutive-failures', fingerprint: 'fp-e' });
  });

  it('a final failure is never provisional', () => {
    const b = breaker({ consecutiveFailures: 3 });
    expect(feed(b, [first(), first(), { ok: false, fingerprint: 'fp-outage', provisional: true, final: true }])).toBe(2);
  });
});
