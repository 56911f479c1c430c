import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../events/engine-event.js';
import { idleProgress } from '../events/progress.js';
import type { Summary } from '../report/summary.js';
import { createLogger, type Logger } from './logger.js';
import { logEvent, loggedEventTypes, logProgress, logSummary } from './run-log.js';
import { EngineEventType } from '../engine/engine-event-type.js';

function capture(): { entries: () => Record<string, unknown>[]; log: Logger } {
  const lines: string[] = [];
  const log = createLogger({ format: 'json', level: 'debug', write: (line) => lines.push(line) });
  return { entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>), log };
}

/** The entry logged for one event: level, msg and the fields beside pino's own. */
function entryOf(event: EngineEvent, newLedger = false): Record<string, unknown> | undefined {
  const { entries, log } = capture();
  logEvent(log, event, { job: 'geocode', newLedger });
  const [entry, ...rest] = entries();
  expect(rest).toEqual([]);
  if (!entry) return undefined;
  const { time: _time, pid: _pid, hostname: _hostname, name: _name, ...fields } = entry;
  return fields;
}

const error = {
  name: 'Error',
  message: 'connect ECONNREFUSED 10.0.0.1:443',
  code: 'ECONNREFUSED',
  stack: 'Error: connect\n    at a (x.js:1:1)',
};

describe('logEvent', () => {
  it('a failure: warn, with key, fingerprint, kind, attempt and the error without its stack', () => {
    const event: EngineEvent = {
      type: 'record:failed',
      key: 'r7',
      kind: 'exhausted',
      attempts: 3,
      counted: 3,
      error,
      rule: 'network',
      fingerprint: 'ab12cd34ef56',
    };
    expect(entryOf(event)).toEqual({
      level: 'warn',
      event: 'record:failed',
      key: 'r7',
      fingerprint: 'ab12cd34ef56',
      kind: 'exhausted',
      attempt: 3,
      counted: 3,
      rule: 'network',
      error: { name: 'Error', message: 'connect ECONNREFUSED 10.0.0.1:443', code: 'ECONNREFUSED' },
      msg: 'record failed',
    });
  });

  it('a retry, a ctx.log line and a concurrency change: debug', () => {
    expect(entryOf({ type: 'record:retrying', key: 'r7', attempt: 1, counted: 1, delayMs: 250, error, rule: 'network' })).toMatchObject({
      level: 'debug',
      event: 'record:retrying',
      key: 'r7',
      attempt: 1,
      delayMs: 250,
      msg: 'retrying',
    });
    expect(entryOf({ type: 'record:log', key: 'r7', message: 'calling the API', fields: { page: 2 } })).toEqual({
      level: 'debug',
      event: 'record:log',
      key: 'r7',
      fields: { page: 2 },
      msg: 'calling the API',
    });
    expect(entryOf({ type: 'concurrency:changed', limit: 3, reason: 'latency' })).toMatchObject({
      level: 'debug',
      limit: 3,
      reason: 'latency',
    });
  });

  it('the breaker opening and closing: warn; an aborted run and an escaped error: error', () => {
    expect(
      entryOf({
        type: 'breaker:opened',
        reason: 'consecutive-failures',
        description: '20 attempts in a row failed with retryable errors or timeouts',
        fingerprint: 'ff',
        failures: 20,
        window: 20,
        error,
      }),
    ).toMatchObject({
      level: 'warn',
      event: 'breaker:opened',
      reason: 'consecutive-failures',
      failures: 20,
      msg: 'breaker opened: 20 attempts in a row failed with retryable errors or timeouts; Error: connect ECONNREFUSED 10.0.0.1:443. No new records until it recovers; records hit by the outage stay pending',
    });
    expect(entryOf({ type: 'breaker:closed', openMs: 2500, released: 4 })).toMatchObject({
      level: 'warn',
      msg: 'breaker closed after 2.5 s; resuming 4 parked records',
    });
    expect(entryOf({ type: 'run:aborted', reason: 'the health check failed' })).toMatchObject({
      level: 'error',
      msg: 'aborting: the health check failed',
    });
    expect(entryOf({ type: 'run:uncaught-error', error, origin: undefined })).toMatchObject({
      level: 'error',
      event: 'run:uncaught-error',
      error: { name: 'Error', stack: 'at a (x.js:1:1)' },
    });
  });

  it('the start of a run says whether it resumes, re-runs or starts a new ledger', () => {
    const started = {
      type: 'run:started',
      runId: 'run-1',
      ledger: '/x.sqlite',
      alreadyDone: 0,
      resumedFrom: undefined,
      crashedRunId: undefined,
      rerunSelected: undefined,
    } as const;
    expect(entryOf(started)).toEqual({
      level: 'info',
      event: 'run:started',
      ledger: '/x.sqlite',
      alreadyDone: 0,
      newLedger: false,
      msg: 'run run-1 started; ledger /x.sqlite',
    });
    expect(entryOf(started, true)?.msg).toBe(
      'run run-1 started with a new ledger /x.sqlite (nothing of job geocode was recorded there before)',
    );
    expect(entryOf({ ...started, alreadyDone: 40, crashedRunId: 'run-0' })?.msg).toBe(
      'resuming: 40 records already done (run run-0 had died without finishing); ledger /x.sqlite',
    );
    expect(entryOf({ ...started, rerunSelected: 3 })?.msg).toBe('re-running 3 failed or skipped records; ledger /x.sqlite');
  });

  it('logs nothing for the events of every record that succeeds', () => {
    expect(entryOf({ type: 'record:succeeded', key: 'r1', attempts: 1, attemptDurationsMs: [3] })).toBeUndefined();
    expect(entryOf({ type: 'checkpoint', committed: 1000, watermark: 1000, durationMs: 4 })).toBeUndefined();
  });
});

describe('loggedEventTypes', () => {
  /** One event of every type. */
  const events: EngineEvent[] = [
    {
      type: 'run:started',
      runId: 'r',
      ledger: 'l',
      alreadyDone: 0,
      resumedFrom: undefined,
      crashedRunId: undefined,
      rerunSelected: undefined,
    },
    { type: 'record:retrying', key: 'k', attempt: 1, counted: 1, delayMs: 5, error, rule: 'network' },
    { type: 'record:failed', key: 'k', kind: 'exhausted', attempts: 3, counted: 3, error, rule: 'network', fingerprint: 'f' },
    { type: 'attempt:ended', key: 'k', attempt: 1, durationMs: 3, outcome: 'succeeded' },
    { type: 'record:succeeded', key: 'k', attempts: 1, attemptDurationsMs: [3] },
    { type: 'record:skipped', key: 'k', blockedBy: ['p'] },
    { type: 'breaker:opened', reason: 'failure-rate', description: 'd', fingerprint: undefined, failures: 1, window: 2, error },
    { type: 'breaker:half-open', parked: 1 },
    { type: 'breaker:closed', openMs: 5, released: 1 },
    { type: 'concurrency:changed', limit: 3, reason: 'healthy' },
    { type: 'run:aborted', reason: 'r' },
    { type: 'run:deadline', reason: 'r' },
    { type: 'run:waiting', holder: { runId: 'h', pid: 1, host: 'vm', expiresAt: '2026-12-02T00:00:00.000Z' } },
    { type: 'run:uncaught-error', error, origin: undefined },
    { type: 'record:log', key: 'k', message: 'm', fields: undefined },
    { type: 'checkpoint', committed: 1, watermark: 0, durationMs: 1 },
    { type: 'run:stopping', reason: 'r' },
    { type: 'run:finished', summary: {} as Summary },
  ];

  it('names exactly the events logEvent writes an entry for, at each level', () => {
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(Object.values(EngineEventType)));
    for (const level of ['debug', 'info', 'warn', 'error'] as const) {
      const lines: string[] = [];
      const log = createLogger({ format: 'json', level, write: (line) => lines.push(line) });
      const written = events.filter((event) => {
        const before = lines.length;
        logEvent(log, event, { job: 'geocode', newLedger: false });
        return lines.length > before;
      });
      expect(new Set(loggedEventTypes(log)), level).toEqual(new Set(written.map((e) => e.type)));
    }
  });
});

describe('logSummary', () => {
  const summary = {
    schema: 1,
    job: 'geocode',
    runId: 'run-1',
    status: 'threshold-exceeded',
    reason: 'failure rate 30.00% is above maxFailureRate 5.00%',
    total: 10,
    succeeded: 7,
    failed: 3,
    skipped: 0,
    pending: 0,
    attempts: 14,
    retries: 4,
    alreadyDone: 0,
    thisRun: { succeeded: 7, failed: 3, skipped: 0 },
    failureRate: 0.3,
    elapsedMs: 1234,
    recordsPerSecond: 8,
    topErrors: [{ fingerprint: 'ab', name: 'Error', message: 'boom', count: 3, sampleKeys: ['r1'] }],
    ledger: '/x.sqlite',
    sourceExhausted: true,
    next: 'batchguard rerun job.mjs --failed',
    warnings: ['the job’s onEvent failed 2 time(s)'],
    reports: undefined,
    breaker: { state: 'closed', trips: 0, retriesDeferred: 0, parkedAttempts: 0 },
  } as unknown as Summary;

  it('the warnings (warn), the crossed threshold (error), then the summary with every figure (info)', () => {
    const { entries, log } = capture();
    logSummary(log, summary);
    const [warning, threshold, last, ...rest] = entries();
    expect(rest).toEqual([]);
    expect(warning).toMatchObject({ level: 'warn', event: 'run:warning', msg: 'the job’s onEvent failed 2 time(s)' });
    expect(threshold).toMatchObject({ level: 'error', event: 'run:threshold-exceeded', failed: 3, failureRate: 0.3 });
    expect(last).toMatchObject({ level: 'info', event: 'run:summary', msg: `run run-1 threshold-exceeded: ${summary.reason}` });
    expect(last?.summary).toEqual(JSON.parse(JSON.stringify(summary)));
  });

  it('a run within its threshold has no threshold entry', () => {
    const { entries, log } = capture();
    logSummary(log, { ...summary, status: 'completed', warnings: [] });
    expect(entries().map((entry) => entry.event)).toEqual(['run:summary']);
  });
});

describe('logProgress', () => {
  it('one info entry with the figures of the plain progress line, rounded', () => {
    const { entries, log } = capture();
    logProgress(
      log,
      { ...idleProgress('run-1', 0, undefined, 4), succeeded: 40, failed: 2, inFlight: 4 },
      {
        done: 42,
        total: 100,
        estimated: true,
        percent: 42.0001,
        recordsPerSecond: 12.345,
        etaSeconds: 4.7,
      },
    );
    expect(entries()[0]).toMatchObject({
      level: 'info',
      event: 'progress',
      done: 42,
      total: 100,
      estimated: true,
      percent: 42,
      recordsPerSecond: 12.3,
      etaSeconds: 5,
      succeeded: 40,
      failed: 2,
      inFlight: 4,
      concurrencyLimit: 4,
      breaker: 'closed',
      msg: 'progress',
    });
  });
});
