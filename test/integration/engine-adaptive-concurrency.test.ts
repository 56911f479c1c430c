/**
 * Adaptive concurrency in real runs (manual clock, real SQLite): a service with room for 8
 * concurrent requests that answers 503 beyond it, against `concurrency: { min: 1, max: 64 }`, a
 * fixed 64 and a fixed 8.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob, type JobOptions } from '../../src/job.js';
import type { Summary } from '../../src/report/summary.js';
import { drive } from '../helpers/drive.js';
import { tempDir } from '../helpers/temp.js';

interface Item {
  id: number;
}

const CAPACITY = 8;

interface Observed {
  summary: Summary;
  unavailable: number;
  mostInFlight: number;
  changes: Extract<EngineEvent, { type: 'concurrency:changed' }>[];
}

async function run(concurrency: JobOptions<Item>['concurrency'], overrides: Partial<JobOptions<Item>> = {}): Promise<Observed> {
  const clock = new ManualClock();
  let inFlight = 0;
  let mostInFlight = 0;
  let unavailable = 0;
  const changes: Observed['changes'] = [];
  const job = defineJob<Item>({
    name: 'adaptive-test',
    source: Array.from({ length: 400 }, (_, i) => ({ id: i })),
    key: (r) => String(r.id),
    concurrency,
    retry: { maxAttempts: 20, backoff: { kind: 'exponential', initialDelayMs: 20, maxDelayMs: 1000, jitter: 'full' } },
    handler: async () => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        if (inFlight > CAPACITY) {
          unavailable++;
          await clock.sleep(1);
          throw Object.assign(new Error('upstream answered 503'), { status: 503 });
        }
        await clock.sleep(20);
        return 'ok';
      } finally {
        inFlight--;
      }
    },
    ...overrides,
  });
  const summary = await drive(
    runJob(job, {
      ledger: join(tempDir(), 'l.sqlite'),
      clock,
      random: () => 0.5,
      onEvent: (event) => {
        if (event.type === 'concurrency:changed') changes.push(event);
      },
    }),
    clock,
    5,
  );
  return { summary, unavailable, mostInFlight, changes };
}

describe('adaptive concurrency', () => {
  it('{ min: 1, max: 64 } against a capacity of 8: a quarter of the 503s of a fixed 64 at most, and near the time of a fixed 8', async () => {
    const fixed64 = await run(64);
    const fixed8 = await run(8);
    const adaptive = await run({ min: 1, max: 64 });
    for (const observed of [fixed64, fixed8, adaptive]) expect(observed.summary).toMatchObject({ succeeded: 400, failed: 0 });
    expect(fixed8.unavailable).toBe(0);
    expect(fixed64.unavailable).toBeGreaterThan(400);
    expect(adaptive.unavailable).toBeLessThanOrEqual(fixed64.unavailable / 4);
    expect(adaptive.summary.elapsedMs).toBeLessThanOrEqual(fixed8.summary.elapsedMs * 1.3);
    // It started at min, went up while healthy, came down on 503s, and says so.
    expect(adaptive.changes[0]).toEqual({ type: 'concurrency:changed', limit: 2, reason: 'healthy' });
    expect(adaptive.changes.some((c) => c.reason === 'overload')).toBe(true);
    expect(adaptive.summary.concurrency).toMatchObject({ min: 1, max: 64 });
    expect(adaptive.summary.concurrency?.decreases).toBeGreaterThan(0);
    expect(adaptive.summary.concurrency?.lowest).toBeGreaterThanOrEqual(1);
    expect(adaptive.summary.concurrency?.limit).toBeLessThanOrEqual(2 * CAPACITY);
    expect(fixed64.summary.concurrency).toBeUndefined();
  });

  it('composes with per-key concurrency: the run never has more in flight than the limit, nor a key more than its slots', async () => {
    const adaptive = await run(
      { min: 2, max: 64 },
      { concurrencyKey: (r) => String(r.id % 3), perKeyConcurrency: 2, source: Array.from({ length: 120 }, (_, i) => ({ id: i })) },
    );
    expect(adaptive.summary).toMatchObject({ succeeded: 120, failed: 0 });
    // Three keys of two slots each: never above 6, so never over capacity.
    expect(adaptive.mostInFlight).toBeLessThanOrEqual(6);
    expect(adaptive.unavailable).toBe(0);
  });
});
