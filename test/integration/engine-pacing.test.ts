/**
 * Pacing inside real runs, on a manual clock (exact timings, no sleeping): a 429 with
 * `Retry-After: 2` from one rate key pauses that key's bucket only; records of the other keys keep
 * flowing, and no attempt of the paused key starts before the 2 s have passed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob, type JobOptions } from '../../src/job.js';
import { drive } from '../helpers/drive.js';
import { tempDir } from '../helpers/temp.js';

interface Item {
  id: string;
  host: 'a' | 'b';
}

interface Call {
  key: string;
  host: string;
  attempt: number;
  at: number;
}

/** What an HTTP client throws for a 429 with `Retry-After: 2`. */
function tooManyRequests(): Error {
  return Object.assign(new Error('429 Too Many Requests'), { status: 429, headers: { 'retry-after': '2' } });
}

/** 10 records of host a and 20 of host b, interleaved (a0 b0 a1 b1 … a9 b9 b10 … b19). */
function interleaved(): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < 20; i++) {
    if (i < 10) items.push({ id: `a${i}`, host: 'a' });
    items.push({ id: `b${i}`, host: 'b' });
  }
  return items;
}

const A0_FAILS_AT = 75;
const PAUSE_MS = 2000;

/**
 * a0's first attempt answers 429 + Retry-After: 2 after 75 ms; other records of host a take 50 ms,
 * those of host b 200 ms. Per-key buckets are generous (1000/s): only the pause can hold a record.
 */
async function run(overrides: Partial<JobOptions<Item>>): Promise<{ calls: Call[]; failedAt: number | undefined; succeeded: number }> {
  const clock = new ManualClock();
  const calls: Call[] = [];
  let failedAt: number | undefined;
  const job = defineJob<Item>({
    name: 'pacing',
    source: interleaved(),
    key: (r) => r.id,
    timeoutMs: 600_000,
    perKeyRateLimit: { perSecond: 1000 },
    rateLimitKey: (r) => r.host,
    handler: async (item, ctx) => {
      calls.push({ key: item.id, host: item.host, attempt: ctx.attempt, at: clock.now() });
      if (item.id === 'a0' && ctx.attempt === 1) {
        await clock.sleep(A0_FAILS_AT);
        failedAt = clock.now();
        throw tooManyRequests();
      }
      await clock.sleep(item.host === 'a' ? 50 : 200);
    },
    ...overrides,
  });
  const summary = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock, random: () => 0.5 }), clock, 5);
  return { calls, failedAt, succeeded: summary.succeeded };
}

function checkPause(calls: Call[], failedAt: number | undefined): void {
  expect(failedAt).toBe(A0_FAILS_AT);
  const resumeAt = A0_FAILS_AT + PAUSE_MS;
  // No attempt of host a starts while its key is paused…
  const aDuringPause = calls.filter((c) => c.host === 'a' && c.at > A0_FAILS_AT && c.at < resumeAt);
  expect(aDuringPause).toEqual([]);
  // …and the retry of the record that got the 429 waits at least the Retry-After.
  const retry = calls.find((c) => c.key === 'a0' && c.attempt === 2);
  expect(retry?.at).toBeGreaterThanOrEqual(resumeAt);
  // Host b is not paused: its records keep starting all through the 2 s.
  const bDuringPause = calls.filter((c) => c.host === 'b' && c.at > A0_FAILS_AT && c.at < resumeAt);
  expect(bDuringPause.length).toBeGreaterThanOrEqual(5);
  // Every record ends up done, a0 on its second attempt.
  expect(calls.filter((c) => c.key === 'a0').map((c) => c.attempt)).toEqual([1, 2]);
}

describe('Retry-After pauses one rate key', () => {
  it('with concurrencyKey = rateLimitKey (2 slots per host): host b keeps flowing; host a waits the 2 s', async () => {
    const { calls, failedAt, succeeded } = await run({ concurrency: 4, concurrencyKey: (r) => r.host, perKeyConcurrency: 2 });
    expect(succeeded).toBe(30);
    checkPause(calls, failedAt);
    // Host a resumes with a single token at the end of the pause, not a burst: the next ones follow
    // one token (1 ms at 1000/s) apart.
    const aAfter = calls.filter((c) => c.host === 'a' && c.at >= A0_FAILS_AT + PAUSE_MS).map((c) => c.at);
    expect(aAfter[0]).toBe(A0_FAILS_AT + PAUSE_MS);
    expect(aAfter[1]).toBeGreaterThanOrEqual(A0_FAILS_AT + PAUSE_MS + 1);
  });

  it('with rateLimitKey alone (concurrency 4): host b keeps flowing while host a is paused', async () => {
    // Without a fairness key, the records of the paused host that are read during the pause must
    // not take every slot while they wait for a token, or host b stalls behind them.
    const { calls, failedAt, succeeded } = await run({ concurrency: 4 });
    expect(succeeded).toBe(30);
    checkPause(calls, failedAt);
  });
});

describe('per-key rate limits', () => {
  it('each rateLimitKey has its own bucket: two hosts at 10/s each run side by side, 100 ms apart per host', async () => {
    const clock = new ManualClock();
    const calls: Call[] = [];
    const items: Item[] = [];
    for (let i = 0; i < 10; i++) items.push({ id: `a${i}`, host: 'a' }, { id: `b${i}`, host: 'b' });
    const job = defineJob<Item>({
      name: 'per-key',
      source: items,
      key: (r) => r.id,
      concurrency: 4,
      perKeyRateLimit: { perSecond: 10, burst: 1 },
      rateLimitKey: (r) => r.host,
      concurrencyKey: (r) => r.host,
      perKeyConcurrency: 2,
      handler: async (item, ctx) => {
        calls.push({ key: item.id, host: item.host, attempt: ctx.attempt, at: clock.now() });
        await clock.sleep(1);
      },
    });
    const summary = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock }), clock, 5);
    expect(summary.succeeded).toBe(20);
    const times = (host: string): number[] => calls.filter((c) => c.host === host).map((c) => c.at);
    // One token per 100 ms per host (burst 1), and the hosts do not share a bucket.
    const expected = Array.from({ length: 10 }, (_, i) => i * 100);
    expect(times('a')).toEqual(expected);
    expect(times('b')).toEqual(expected);
  });

  it('a rateLimitKey that throws fails that record as invalid (named), and the others run', async () => {
    const clock = new ManualClock();
    const job = defineJob<Item>({
      name: 'bad-rate-key',
      source: [
        { id: 'a0', host: 'a' },
        { id: 'x', host: 'b' },
        { id: 'a1', host: 'a' },
      ],
      key: (r) => r.id,
      maxFailureRate: 1,
      perKeyRateLimit: { perSecond: 100 },
      rateLimitKey: (r) => {
        if (r.id === 'x') throw new Error('no host for x');
        return r.host;
      },
      handler: async () => {},
    });
    const failures: string[] = [];
    const summary = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock }), clock, 5);
    expect(summary).toMatchObject({ succeeded: 2, failed: 1 });
    for (const group of summary.topErrors) failures.push(group.message);
    expect(failures).toEqual(['job.rateLimitKey threw: no host for x']);
  });

  it('a concurrencyKey that throws fails that record as invalid (named), and the others run', async () => {
    const clock = new ManualClock();
    const job = defineJob<Item>({
      name: 'bad-fair-key',
      source: [
        { id: 'a0', host: 'a' },
        { id: 'x', host: 'b' },
        { id: 'a1', host: 'a' },
      ],
      key: (r) => r.id,
      maxFailureRate: 1,
      concurrencyKey: (r) => {
        if (r.id === 'x') throw new Error('no tenant for x');
        return r.host;
      },
      handler: async () => {},
    });
    const summary = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock }), clock, 5);
    expect(summary).toMatchObject({ succeeded: 2, failed: 1 });
    expect(summary.topErrors.map((group) => group.message)).toEqual(['job.concurrencyKey threw: no tenant for x']);
  });
});

describe('a Retry-After longer than the job waits for a retry', () => {
  it('pauses its key for maxElapsedMs at most: a0 fails (exhausted), the other records of its host run after the cap', async () => {
    const clock = new ManualClock();
    const calls: Call[] = [];
    const tenYears = String(10 * 365 * 86_400);
    const job = defineJob<Item>({
      name: 'absurd-retry-after',
      source: interleaved(),
      key: (r) => r.id,
      timeoutMs: 600_000,
      maxFailureRate: 1,
      retry: { maxElapsedMs: 10_000 },
      perKeyRateLimit: { perSecond: 1000 },
      rateLimitKey: (r) => r.host,
      handler: async (item, ctx) => {
        calls.push({ key: item.id, host: item.host, attempt: ctx.attempt, at: clock.now() });
        await clock.sleep(50);
        if (item.id === 'a0') throw Object.assign(new Error('429'), { status: 429, headers: { 'retry-after': tenYears } });
      },
    });
    // An hour of the run's own time: without the cap, host a's records were still waiting for 2036.
    const summary = await drive(runJob(job, { ledger: join(tempDir(), 'l.sqlite'), clock, maxDurationMs: 3_600_000 }), clock, 100);
    expect(summary).toMatchObject({ status: 'completed', succeeded: 29, failed: 1, pending: 0 });
    expect(calls.filter((c) => c.key === 'a0').map((c) => c.attempt)).toEqual([1]);
    const pausedUntil = 50 + 10_000;
    const aAfter = calls.filter((c) => c.host === 'a' && c.key !== 'a0' && c.at > 50).map((c) => c.at);
    expect(aAfter.length).toBeGreaterThan(0);
    expect(Math.min(...aAfter)).toBeGreaterThanOrEqual(pausedUntil);
  });
});
