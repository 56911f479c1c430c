import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { runJob } from '../../src/engine/run-job.js';
import { RetryableError } from '../../src/errors.js';
import { defineJob, type JobOptions } from '../../src/job.js';
import type { Summary } from '../../src/report/summary.js';
import { drive } from '../helpers/drive.js';
import { storedRows } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

interface Item {
  id: string;
}

type Retrying = Extract<EngineEvent, { type: 'record:retrying' }>;
type Failed = Extract<EngineEvent, { type: 'record:failed' }>;

interface Observed {
  summary: Summary;
  /** Clock time of every attempt, per key. */
  attemptsAt: Map<string, number[]>;
  /** ctx.attempt of every call, per key. */
  attemptNumbers: Map<string, number[]>;
  retrying: Retrying[];
  failed: Failed[];
  /** Clock time of each record:failed event. */
  failedAt: number[];
  ledger: string;
}

/** Runs `ids` through `handler` on a manual clock with random() = 0.5, recording when each attempt started. */
async function run(
  ids: string[],
  handler: (item: Item, attempt: number, clock: ManualClock) => unknown,
  overrides: Partial<JobOptions<Item>> = {},
): Promise<Observed> {
  const ledger = join(tempDir(), 'l.sqlite');
  const clock = new ManualClock();
  const attemptsAt = new Map<string, number[]>();
  const attemptNumbers = new Map<string, number[]>();
  const events: EngineEvent[] = [];
  const failedAt: number[] = [];
  const job = defineJob<Item>({
    name: 'retry-test',
    source: ids.map((id) => ({ id })),
    key: (r) => r.id,
    maxFailureRate: 1,
    timeoutMs: 600_000,
    handler: async (item, ctx) => {
      attemptsAt.set(ctx.key, [...(attemptsAt.get(ctx.key) ?? []), clock.now()]);
      attemptNumbers.set(ctx.key, [...(attemptNumbers.get(ctx.key) ?? []), ctx.attempt]);
      return handler(item, ctx.attempt, clock);
    },
    ...overrides,
  });
  const summary = await drive(
    runJob(job, {
      ledger,
      clock,
      random: () => 0.5,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'record:failed') failedAt.push(clock.now());
      },
    }),
    clock,
  );
  return {
    summary,
    attemptsAt,
    attemptNumbers,
    ledger,
    failedAt,
    retrying: events.filter((e): e is Retrying => e.type === 'record:retrying'),
    failed: events.filter((e): e is Failed => e.type === 'record:failed'),
  };
}

async function storedFailures(path: string): Promise<{ key: string; kind?: string; attempts: number; rule?: string }[]> {
  return (await storedRows(path)).map(({ key, kind, attempts, rule }) => ({ key, kind, attempts, rule }));
}

function fail(message: string): never {
  throw new Error(message);
}

describe('engine retries (manual clock, random = 0.5)', () => {
  it('waits exponential delays with full jitter between attempts, then fails as exhausted', async () => {
    const observed = await run(['a'], () => fail('upstream hiccup'), {
      retry: { maxAttempts: 5, backoff: { kind: 'exponential', initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' } },
    });
    // Delays 0.5 × 200·2^(n−1): 100, 200, 400, 800.
    expect(observed.attemptsAt.get('a')).toEqual([0, 100, 300, 700, 1500]);
    expect(observed.attemptNumbers.get('a')).toEqual([1, 2, 3, 4, 5]);
    expect(observed.retrying.map((e) => [e.key, e.attempt, e.delayMs, e.rule, e.error.name, e.error.message])).toEqual([
      ['a', 1, 100, 'default', 'Error', 'upstream hiccup'],
      ['a', 2, 200, 'default', 'Error', 'upstream hiccup'],
      ['a', 3, 400, 'default', 'Error', 'upstream hiccup'],
      ['a', 4, 800, 'default', 'Error', 'upstream hiccup'],
    ]);
    expect(observed.failed).toHaveLength(1);
    expect(observed.failed[0]).toMatchObject({
      type: 'record:failed',
      key: 'a',
      kind: 'exhausted',
      attempts: 5,
      rule: 'default',
      error: { name: 'Error', message: 'upstream hiccup' },
    });
    expect(typeof observed.failed[0]?.error.stack).toBe('string');
    expect(observed.summary).toMatchObject({ total: 1, succeeded: 0, failed: 1, pending: 0, attempts: 5, retries: 4 });
    expect(await storedFailures(observed.ledger)).toEqual([{ key: 'a', kind: 'exhausted', attempts: 5, rule: 'default' }]);
  });

  it('caps the exponential delay at maxDelayMs (no jitter)', async () => {
    const observed = await run(['a'], () => fail('down'), {
      retry: { maxAttempts: 4, backoff: { kind: 'exponential', initialDelayMs: 200, multiplier: 10, maxDelayMs: 1000, jitter: 'none' } },
    });
    expect(observed.retrying.map((e) => e.delayMs)).toEqual([200, 1000, 1000]);
    expect(observed.attemptsAt.get('a')).toEqual([0, 200, 1200, 2200]);
  });

  it('a record that succeeds on a retry is recorded succeeded, with the attempts it took', async () => {
    const observed = await run(['a', 'b'], (item, attempt) => (item.id === 'a' && attempt < 3 ? fail('flaky') : 'ok'), {
      retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 250 } },
    });
    expect(observed.attemptsAt.get('a')).toEqual([0, 250, 500]);
    expect(observed.attemptsAt.get('b')).toEqual([0]);
    expect(observed.failed).toEqual([]);
    expect(observed.summary).toMatchObject({ succeeded: 2, failed: 0, attempts: 4, retries: 2 });
  });

  it('waits at least a Retry-After header (a Headers object), even above maxDelayMs', async () => {
    const observed = await run(
      ['a'],
      (_item, attempt) => {
        if (attempt === 1) throw Object.assign(new Error('slow down'), { status: 429, headers: new Headers({ 'retry-after': '3' }) });
        return 'ok';
      },
      { retry: { maxAttempts: 3, backoff: { kind: 'exponential', initialDelayMs: 200, maxDelayMs: 1000, jitter: 'full' } } },
    );
    const [first, second] = observed.attemptsAt.get('a') as number[];
    expect((second as number) - (first as number)).toBeGreaterThanOrEqual(3000);
    expect(observed.attemptsAt.get('a')).toEqual([0, 3000]);
    expect(observed.retrying.map((e) => [e.attempt, e.delayMs, e.rule, e.error.status])).toEqual([[1, 3000, 'http-status-429', 429]]);
    expect(observed.summary).toMatchObject({ succeeded: 1, failed: 0, attempts: 2, retries: 1 });
  });

  it('takes the server delay from response.headers and from RetryableError.retryAfterMs, keeping a longer backoff', async () => {
    const observed = await run(
      ['plain-object', 'retry-after-ms', 'backoff-longer'],
      (item, attempt) => {
        if (attempt > 1) return 'ok';
        if (item.id === 'plain-object')
          throw Object.assign(new Error('busy'), { response: { status: 503, headers: { 'Retry-After': '2' } } });
        if (item.id === 'retry-after-ms') throw new RetryableError('later', { retryAfterMs: 1234 });
        throw new RetryableError('later', { retryAfterMs: 10 });
      },
      { retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 500 } } },
    );
    expect(observed.attemptsAt.get('plain-object')).toEqual([0, 2000]);
    expect(observed.attemptsAt.get('retry-after-ms')).toEqual([0, 1234]);
    expect(observed.attemptsAt.get('backoff-longer')).toEqual([0, 500]);
  });

  it('fails as exhausted when the next retry would start after maxElapsedMs', async () => {
    const observed = await run(['a'], () => fail('still down'), {
      retry: { maxAttempts: 10, maxElapsedMs: 1000, backoff: { kind: 'constant', delayMs: 400 } },
    });
    // 0 → 400 → 800; a retry at 1200 would exceed 1000.
    expect(observed.attemptsAt.get('a')).toEqual([0, 400, 800]);
    expect(observed.retrying.map((e) => e.delayMs)).toEqual([400, 400]);
    expect(observed.failed.map((e) => [e.key, e.kind, e.attempts])).toEqual([['a', 'exhausted', 3]]);
    expect(observed.summary).toMatchObject({ failed: 1, attempts: 3, retries: 2 });
  });

  it('counts handler time against maxElapsedMs', async () => {
    const observed = await run(
      ['a'],
      async (_item, _attempt, clock) => {
        await clock.sleep(300);
        fail('slow and failing');
      },
      { retry: { maxAttempts: 10, maxElapsedMs: 1000, backoff: { kind: 'constant', delayMs: 400 } } },
    );
    // Attempt 1 fails at 300, retries at 700; attempt 2 fails at 1000: a retry at 1400 is too late.
    expect(observed.attemptsAt.get('a')).toEqual([0, 700]);
    expect(observed.failed.map((e) => [e.kind, e.attempts])).toEqual([['exhausted', 2]]);
  });

  it('a classify hook can turn an otherwise retryable error fatal', async () => {
    const observed = await run(
      ['quota', 'other'],
      (item) => {
        throw Object.assign(new Error(item.id === 'quota' ? 'quota exceeded' : 'service unavailable'), { status: 503 });
      },
      {
        retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } },
        classify: (error) => ((error as Error).message.includes('quota') ? 'fatal' : undefined),
      },
    );
    expect(observed.attemptsAt.get('quota')).toEqual([0]);
    expect(observed.attemptsAt.get('other')).toEqual([0, 100, 200]);
    expect(observed.failed.map((e) => [e.key, e.kind, e.attempts, e.rule])).toEqual([
      ['quota', 'fatal', 1, 'classify-hook'],
      ['other', 'exhausted', 3, 'http-status-503'],
    ]);
    expect(observed.retrying.every((e) => e.key === 'other')).toBe(true);
    expect(await storedFailures(observed.ledger)).toEqual([
      { key: 'quota', kind: 'fatal', attempts: 1, rule: 'classify-hook' },
      { key: 'other', kind: 'exhausted', attempts: 3, rule: 'http-status-503' },
    ]);
  });

  it('retries a RetryableError wrapping a TypeError; a bare TypeError is fatal at once', async () => {
    const observed = await run(
      ['wrapped', 'bare'],
      (item) => {
        const bug = new TypeError("Cannot read properties of undefined (reading 'id')");
        if (item.id === 'wrapped') throw new RetryableError('lookup failed', { cause: bug });
        throw bug;
      },
      { retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 50 } } },
    );
    expect(observed.attemptsAt.get('wrapped')).toEqual([0, 50, 100]);
    expect(observed.attemptsAt.get('bare')).toEqual([0]);
    expect(observed.retrying.map((e) => [e.key, e.attempt, e.rule])).toEqual([
      ['wrapped', 1, 'RetryableError'],
      ['wrapped', 2, 'RetryableError'],
    ]);
    expect(observed.retrying[0]?.error).toMatchObject({ name: 'RetryableError', message: 'lookup failed', cause: { name: 'TypeError' } });
    expect(observed.failed.map((e) => [e.key, e.kind, e.attempts, e.rule])).toEqual([
      ['bare', 'fatal', 1, 'programming-TypeError'],
      ['wrapped', 'exhausted', 3, 'RetryableError'],
    ]);
    expect(observed.summary).toMatchObject({ failed: 2, attempts: 4, retries: 2 });
  });

  it('times an attempt out between timeoutMs and 1.1 × timeoutMs, and fails the record as timeout', async () => {
    const observed = await run(['a'], (_item, _attempt, clock) => clock.sleep(1_000_000), {
      timeoutMs: 1000,
      retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
    });
    // Sweeps every 100 ms: attempt 1 (0) times out at 1000, attempt 2 (1010) at the sweep of 2100.
    expect(observed.attemptsAt.get('a')).toEqual([0, 1010]);
    expect(observed.retrying.map((e) => [e.attempt, e.rule, e.error.name])).toEqual([[1, 'timeout', 'TimeoutError']]);
    expect(observed.failed.map((e) => [e.kind, e.attempts, e.error.message])).toEqual([['timeout', 2, 'attempt timed out after 1000 ms']]);
    expect(observed.failedAt).toEqual([2100]);
  });

  it('a custom backoff that returns an invalid delay fails the record, keeping the handler error as the cause', async () => {
    const observed = await run(['a'], () => fail('the real problem'), {
      retry: { maxAttempts: 3, backoff: () => -1 },
    });
    expect(observed.attemptsAt.get('a')).toEqual([0]);
    expect(observed.failed).toHaveLength(1);
    const failed = observed.failed[0] as Failed;
    expect(failed).toMatchObject({ key: 'a', kind: 'fatal', attempts: 1 });
    expect(failed.error).toMatchObject({
      name: 'ConfigError',
      message: 'retry.backoff returned -1 for attempt 1; it must return a finite number of milliseconds >= 0',
    });
    expect(failed.error.cause).toMatchObject({ name: 'Error', message: 'the real problem' });
  });
});
