import { describe, expect, it } from 'vitest';
import { AlertRules } from './alert-rules.js';
import { resolveAlerts } from './alert-options.js';
import type { EngineEvent } from '../../events/engine-event.js';
import type { Summary } from '../../report/summary.js';
import { findRegressions, type RunFigures } from '../../report/run-history.js';

/** A finished run's figures: `records` records at `recordsPerSecond`, `failed` of them failed. */
function figures(runId: string, recordsPerSecond: number, failed = 0, records = 100): RunFigures {
  return {
    runId,
    startedAt: '',
    status: 'completed',
    records,
    failed,
    skipped: 0,
    failureRate: failed / records,
    elapsedMs: (records / recordsPerSecond) * 1000,
    recordsPerSecond,
  };
}

/** The summary of a run of 100 records whose regressions (against two runs at 80/s without failures) are found as the run's end finds them. */
function finishedSummary(recordsPerSecond: number, failed = 0): Summary {
  const regressions = findRegressions(figures('c', recordsPerSecond, failed), [figures('b', 80), figures('a', 80)]);
  return {
    status: 'completed',
    succeeded: 1000 - failed,
    failed,
    failureRate: failed / 1000,
    thisRun: { succeeded: 100 - failed, failed, skipped: 0 },
    ...(regressions.length > 0 ? { regressions } : {}),
  } as Summary;
}

function rulesOf(rules: unknown[]): AlertRules {
  return new AlertRules(resolveAlerts({ rules })!.rules);
}

describe('AlertRules', () => {
  it('fires a failure-count rule once when the count crosses, not once per failure', () => {
    const rules = rulesOf([{ kind: 'failure-count', threshold: 3 }]);
    expect(rules.sample({ succeeded: 10, failed: 2 }, 0)).toEqual([]);
    const fired = rules.sample({ succeeded: 10, failed: 3 }, 100);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toMatchObject({ rule: 'failure-count', failed: 3, finished: 13 });
    for (let failed = 4; failed < 50; failed++) expect(rules.sample({ succeeded: 10, failed }, 100 + failed)).toEqual([]);
  });

  it('counts only the failures inside its window', () => {
    const rules = rulesOf([{ kind: 'failure-rate', threshold: 0.5, windowMs: 10_000, minRecords: 4 }]);
    expect(rules.sample({ succeeded: 0, failed: 0 }, 0)).toEqual([]);
    // 100 failures in the first second, then 20 s of successes only: the old failures are outside the window.
    expect(rules.sample({ succeeded: 0, failed: 100 }, 1_000)).toHaveLength(1);
    expect(rules.sample({ succeeded: 50, failed: 100 }, 21_000)).toEqual([]);
    expect(rules.sample({ succeeded: 100, failed: 100 }, 30_000)).toEqual([]);
  });

  it('fires a rate rule at the crossing, stays quiet while above, re-arms below, and respects the cooldown', () => {
    const rules = rulesOf([{ kind: 'failure-rate', threshold: 0.5, windowMs: 10_000, minRecords: 4, cooldownMs: 60_000 }]);
    expect(rules.sample({ succeeded: 3, failed: 0 }, 1_000)).toEqual([]);
    expect(rules.sample({ succeeded: 3, failed: 2 }, 2_000)).toEqual([]); // 40%
    const first = rules.sample({ succeeded: 3, failed: 4 }, 3_000); // 4 of 7 = 57%
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ rule: 'failure-rate', failed: 4, finished: 7 });
    expect(first[0]!.failureRate).toBeCloseTo(4 / 7);
    expect(rules.sample({ succeeded: 3, failed: 9 }, 4_000)).toEqual([]); // still above: no new alert
    // 20 s later the window (10 s) holds only successes: below, so re-armed.
    expect(rules.sample({ succeeded: 40, failed: 9 }, 24_000)).toEqual([]);
    // Above again, but within the 60 s cooldown of the first alert: quiet.
    expect(rules.sample({ succeeded: 40, failed: 30 }, 30_000)).toEqual([]);
    expect(rules.sample({ succeeded: 40, failed: 31 }, 40_000)).toEqual([]); // still above, not re-armed
    expect(rules.sample({ succeeded: 80, failed: 31 }, 52_000)).toEqual([]); // below: re-armed
    const second = rules.sample({ succeeded: 80, failed: 60 }, 70_000); // above, cooldown over
    expect(second).toHaveLength(1);
    // The window's base is the latest sample at or before 60 s (the one at 52 s): 29 failed of 29.
    expect(second[0]).toMatchObject({ failed: 29, finished: 29, failureRate: 1 });
  });

  it('does not fire a rate rule before minRecords finished in the window', () => {
    const rules = rulesOf([{ kind: 'failure-rate', threshold: 0.1, windowMs: 10_000, minRecords: 5 }]);
    expect(rules.sample({ succeeded: 0, failed: 4 }, 1_000)).toEqual([]);
    expect(rules.sample({ succeeded: 0, failed: 5 }, 2_000)).toHaveLength(1);
  });

  it('fires the event rules on their events, once each within the cooldown', () => {
    const rules = rulesOf([{ kind: 'breaker-opened', cooldownMs: 1_000 }, { kind: 'run-aborted' }, { kind: 'threshold-exceeded' }]);
    const opened = {
      type: 'breaker:opened',
      reason: 'consecutive-failures',
      description: '20 failures in a row',
      fingerprint: undefined,
      failures: 20,
      window: 20,
      error: { name: 'Error', message: 'x' },
    } as EngineEvent;
    expect(rules.event(opened, 0).map((a) => a.rule)).toEqual(['breaker-opened']);
    expect(rules.event(opened, 500)).toEqual([]); // within the cooldown
    expect(rules.event(opened, 1_500)).toHaveLength(1);
    expect(rules.event({ type: 'run:aborted', reason: 'the breaker did not recover' }, 2_000)[0]?.message).toContain(
      'the breaker did not recover',
    );
    const summary = { status: 'threshold-exceeded', succeeded: 6, failed: 4, failureRate: 0.4 } as Summary;
    const finished = rules.event({ type: 'run:finished', summary }, 3_000);
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ rule: 'threshold-exceeded', failed: 4, finished: 10, failureRate: 0.4 });
    expect(rules.event({ type: 'run:finished', summary: { ...summary, status: 'completed' } }, 4_000)).toEqual([]);
  });
});

describe('the run-regressed rule', () => {
  it('fires once at the end of a run that regressed, naming this run and the median of the previous ones', () => {
    const rules = rulesOf([{ kind: 'run-regressed' }, { kind: 'threshold-exceeded' }]);
    expect(rules.event({ type: 'run:started', runId: 'c' } as EngineEvent, 0)).toEqual([]);
    const fired = rules.event({ type: 'run:finished', summary: finishedSummary(40) }, 1_000);
    expect(fired).toHaveLength(1);
    expect(fired[0]).toEqual({
      rule: 'run-regressed',
      message: 'this run is markedly slower than the previous 2 runs: 40 records/s against a median of 80 (2.0× slower)',
      failureRate: 0,
      failed: 0,
      finished: 100,
      atMs: 1_000,
    });
  });

  it("stays quiet for a run as fast as the previous ones, and alerts on the failure rate with this run's figures", () => {
    expect(rulesOf([{ kind: 'run-regressed' }]).event({ type: 'run:finished', summary: finishedSummary(70) }, 0)).toEqual([]);
    const both = rulesOf([{ kind: 'run-regressed' }]).event({ type: 'run:finished', summary: finishedSummary(20, 30) }, 0);
    expect(both).toHaveLength(1);
    expect(both[0]?.message).toBe(
      'this run is markedly slower than the previous 2 runs: 20 records/s against a median of 80 (4.0× slower); ' +
        'this run fails markedly more than the previous 2 runs: 30.0% of its records that ran failed against a median of 0.0%',
    );
    expect(both[0]).toMatchObject({ failed: 30, finished: 100, failureRate: 0.3 });
  });

  it('alerts only on the regressions named in compare', () => {
    const onlyFailures = rulesOf([{ kind: 'run-regressed', compare: ['failure-rate'] }]);
    expect(onlyFailures.event({ type: 'run:finished', summary: finishedSummary(20) }, 0)).toEqual([]);
    expect(onlyFailures.event({ type: 'run:finished', summary: finishedSummary(80, 30) }, 0)[0]?.message).toMatch(
      /^this run fails markedly more than the previous 2 runs: 30.0%/,
    );
  });

  it('validates its options, with a hint for a misspelt name', () => {
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regresed' }] })).toThrow(
      'alerts.rules[0].kind must be one of failure-count, failure-rate, breaker-opened, run-aborted, threshold-exceeded, run-regressed (did you mean "run-regressed"?); got "run-regresed"',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regressed', compare: ['througput'] }] })).toThrow(
      'alerts.rules[0].compare[0] must be one of throughput, failure-rate (did you mean "throughput"?); got "througput"',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regressed', compar: ['throughput'] }] })).toThrow(
      'alerts.rules[0].compar is not a known option (did you mean "compare"?)',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regressed', compare: [] }] })).toThrow(
      "alerts.rules[0].compare must be a non-empty array of throughput, failure-rate; got an array; for example ['throughput']",
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regressed', threshold: 2 }] })).toThrow(
      'alerts.rules[0].threshold does not apply to a run-regressed rule',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'run-regressed', cooldownMs: 1000 }] })).toThrow(
      'alerts.rules[0].cooldownMs does not apply to a run-regressed rule (it fires at most once per run, at its end)',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'failure-count', threshold: 1, compare: ['throughput'] }] })).toThrow(
      'alerts.rules[0].compare does not apply to a failure-count rule',
    );
    expect(() => resolveAlerts({ rules: [{ threshold: 1 }] })).toThrow('alerts.rules[0].kind is required: one of failure-count');
    expect(resolveAlerts({ rules: [{ kind: 'run-regressed' }] })?.rules[0]?.compare).toEqual(['throughput', 'failure-rate']);
  });
});

describe('resolveAlerts', () => {
  it('names the field of a bad option', () => {
    expect(() => resolveAlerts({ rules: [{ kind: 'failure-rate' }] })).toThrow(
      'alerts.rules[0].threshold is required for a failure-rate rule',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'failure-rates', threshold: 1 }] })).toThrow(
      'alerts.rules[0].kind must be one of failure-count, failure-rate',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'failure-rate', threshold: 2 }] })).toThrow(
      'alerts.rules[0].threshold must be a finite number from 0 to 1',
    );
    expect(() => resolveAlerts({ rules: [{ kind: 'breaker-opened', threshold: 2 }] })).toThrow(
      'alerts.rules[0].threshold does not apply to a breaker-opened rule',
    );
    expect(() => resolveAlerts({ webhook: { url: 'ftp://x/secret-token' } })).toThrow(
      'alerts.webhook.url must be an http or https URL; got a string that is not one',
    );
    expect(() => resolveAlerts({ webhok: {} })).toThrow('alerts.webhok is not a known option (did you mean "webhook"?)');
    expect(() => resolveAlerts({ sentry: { dsn: 'https://k@x/1', maxEventsPerGroup: 0 } })).toThrow(
      'alerts.sentry.maxEventsPerGroup must be an integer from 1',
    );
  });

  it('applies the default rules and sender settings', () => {
    const resolved = resolveAlerts({ webhook: { url: 'https://hooks.example.com/T0/B0/secret' } })!;
    expect(resolved.rules.map((r) => r.kind)).toEqual(['threshold-exceeded', 'breaker-opened', 'run-aborted']);
    expect(resolved.webhook).toEqual({ url: 'https://hooks.example.com/T0/B0/secret', timeoutMs: 5000, retries: 2 });
  });
});
