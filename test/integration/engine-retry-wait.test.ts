/**
 * Retry waits give their slot back (as rate-limit waits do), with a bound on the records waiting;
 * a run where every record needs one retry runs at the pace of its extra attempts, with the default
 * breaker and retry budget. A manual clock and a real SQLite ledger.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { RETRY_WAITING_PER_SLOT } from '../../src/engine/retry-room.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob, type JobOptions } from '../../src/job.js';
import { drive } from '../helpers/drive.js';
import { tempDir } from '../helpers/temp.js';

interface Item {
  id: number;
}

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: i }));

/** A 503 with `Retry-After: 1` (as fetch's Response would carry it). */
const unavailable = (): Error => Object.assign(new Error('upstream answered 503'), { status: 503, headers: { 'retry-after': '1' } });

/** A refused connection: retryable, with no Retry-After (retries come after the job's delay). */
const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:443'), { code: 'ECONNREFUSED' });

function job(overrides: Partial<JobOptions<Item>>) {
  return defineJob<Item>({
    name: 'retry-wait-test',
    source: items(100),
    key: (r) => String(r.id),
    handler: async () => 'ok',
    ...overrides,
  });
}

describe('retry waits free their slot', () => {
  it('a record waiting a Retry-After of 1 s lets the others run meanwhile, at concurrency 1', async () => {
    const clock = new ManualClock();
    const calls: { key: string; attempt: number; at: number }[] = [];
    const summary = await drive(
      runJob(
        job({
          source: items(40),
          concurrency: 1,
          handler: async (r, ctx) => {
            calls.push({ key: ctx.key, attempt: ctx.attempt, at: clock.now() });
            await clock.sleep(20);
            if (r.id === 0 && ctx.attempt === 1) throw unavailable();
            return 'ok';
          },
        }),
        { ledger: join(tempDir(), 'l.sqlite'), clock },
      ),
      clock,
      10,
    );
    expect(summary).toMatchObject({ status: 'completed', succeeded: 40, failed: 0, attempts: 41, retries: 1 });
    // Records 1 … 39 ran during record 0's wait: with the slot held they would all come after it.
    const retry = calls.find((c) => c.key === '0' && c.attempt === 2);
    expect(retry?.at).toBeGreaterThanOrEqual(20 + 1000);
    expect(calls.filter((c) => c.key !== '0' && c.at < 1000)).toHaveLength(39);
    // 40 calls of 20 ms each, and the retry after its second: the run took 1 s and a call, not 1.8 s.
    expect(summary.elapsedMs).toBeLessThan(1000 + 20 + 20 + 50);
  });

  it('until a retry is served, the reader stops while records running or waiting to retry reach 1 + RETRY_WAITING_PER_SLOT per slot; served retries widen that', async () => {
    const clock = new ManualClock();
    let waitingMost = 0;
    let waitingMostUnserved = 0;
    let served = false;
    const waiting = new Set<string>();
    const onEvent = (event: EngineEvent): void => {
      if (event.type === 'record:retrying') waiting.add(event.key);
      if (event.type === 'record:succeeded' && event.attempts > 1) served = true;
      waitingMost = Math.max(waitingMost, waiting.size);
      if (!served) waitingMostUnserved = Math.max(waitingMostUnserved, waiting.size);
    };
    const summary = await drive(
      runJob(
        job({
          source: items(200),
          concurrency: 2,
          retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1000 } },
          breaker: { enabled: false },
          handler: async (_r, ctx) => {
            waiting.delete(ctx.key);
            await clock.sleep(10);
            if (ctx.attempt === 1) throw unavailable();
            return 'ok';
          },
        }),
        { ledger: join(tempDir(), 'l.sqlite'), clock, onEvent },
      ),
      clock,
      10,
    );
    expect(summary).toMatchObject({ status: 'completed', succeeded: 200, failed: 0 });
    expect(waitingMostUnserved).toBeGreaterThan(2);
    expect(waitingMostUnserved).toBeLessThanOrEqual((1 + RETRY_WAITING_PER_SLOT) * 2);
    // Retries are served: the room about triples with each round of retries (twice those waiting,
    // above the base), so that the records' 1 s waits overlap instead of the reader taking 10
    // records a second, which would take 20 s.
    expect(waitingMost).toBeGreaterThan(4 * (1 + RETRY_WAITING_PER_SLOT) * 2);
    expect(summary.elapsedMs).toBeLessThan(8000);
  });

  it('failed retries narrow the room again: an outage after a flaky spell reaches a bounded number of records', async () => {
    const clock = new ManualClock();
    const outageAt = 3000;
    const base = (1 + RETRY_WAITING_PER_SLOT) * 2;
    /** When each record was first called after the outage began. */
    const hitByOutage: number[] = [];
    // Records that failed an attempt and have not been called again (waiting to retry, or queued for a slot).
    const waiting = new Set<string>();
    let waitingMostBefore = 0;
    const onEvent = (event: EngineEvent): void => {
      if (event.type === 'record:retrying') waiting.add(event.key);
      if (clock.now() < outageAt) waitingMostBefore = Math.max(waitingMostBefore, waiting.size);
    };
    await drive(
      runJob(
        job({
          source: items(20000),
          concurrency: 2,
          retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } },
          breaker: { enabled: false },
          retryBudget: { enabled: false },
          maxFailureRate: 1,
          handler: async (r, ctx) => {
            waiting.delete(ctx.key);
            if (ctx.attempt === 1 && clock.now() >= outageAt) hitByOutage.push(clock.now());
            await clock.sleep(1);
            // A flaky spell (every other record fails once), then an outage: every call fails.
            if (clock.now() >= outageAt || (r.id % 2 === 0 && ctx.attempt === 1)) throw refused();
            return 'ok';
          },
        }),
        { ledger: join(tempDir(), 'l.sqlite'), clock, onEvent, maxDurationMs: outageAt + 2000 },
      ),
      clock,
      10,
    );
    // The flaky spell widened the room past the base (served retries) …
    expect(waitingMostBefore).toBeGreaterThan(2 * base);
    // … and the outage, without a breaker here, reached no more records in 2 s than the base plus
    // twice what had waited: its retries failed from 100 ms on and each took half the extra room
    // away. (Had failed retries left the room as it was, the outage would have reached over 1,000.)
    expect(hitByOutage.length).toBeGreaterThan(0);
    expect(hitByOutage.length).toBeLessThanOrEqual(base + 2 * waitingMostBefore);
  });

  it('every record needing one retry, with the default breaker and retry budget: no trip, no retry held back, the pace of the extra attempts', async () => {
    const clock = new ManualClock();
    const events: EngineEvent[] = [];
    const run = (options: Partial<JobOptions<Item>>) =>
      drive(
        runJob(
          job({
            concurrency: 4,
            retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } },
            handler: async (_r, ctx) => {
              await clock.sleep(20);
              if (ctx.attempt === 1) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:443'), { code: 'ECONNREFUSED' });
              return 'ok';
            },
            ...options,
          }),
          { ledger: join(tempDir(), 'l.sqlite'), clock, onEvent: (e) => events.push(e) },
        ),
        clock,
        10,
      );
    const defaults = await run({});
    expect(defaults).toMatchObject({ status: 'completed', succeeded: 100, failed: 0, attempts: 200, retries: 100 });
    expect(defaults.breaker).toMatchObject({ trips: 0, retriesDeferred: 0, parkedAttempts: 0 });
    expect(events.filter((e) => e.type.startsWith('breaker:'))).toEqual([]);
    const off = await run({ breaker: { enabled: false }, retryBudget: { enabled: false } });
    expect(off).toMatchObject({ succeeded: 100, attempts: 200 });
    // 200 calls of 20 ms on 4 slots is 1 s of work; the defaults take no longer than with them off.
    expect(defaults.elapsedMs).toBeLessThanOrEqual(off.elapsedMs + 50);
    expect(defaults.elapsedMs).toBeLessThan(1000 + 100 + 200);
  });
});
