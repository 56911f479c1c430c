/**
 * A job's own test, written the way a user writes one with `batchguard/testing`: a memory ledger,
 * a manual clock, and fault injectors for retries, a fatal failure and an outage that trips the
 * breaker. Minutes of backoff and breaker probing pass on the manual clock in well under a second.
 */
import { describe, expect, it } from 'vitest';
import { defineJob, runJob, type EngineEvent } from '../../src/index.js';
import { ManualClock, failTimes, failWith, memoryLedger } from '../../src/testing/index.js';

interface Order {
  id: string;
  kind: 'flaky' | 'bad' | 'ok';
}

/** What a user's job module exports, with its upstream calls replaced by faults in the test. */
function ordersJob(upstream: (ctx: { key: string; signal: AbortSignal }) => Promise<void>, orders: Order[]) {
  return defineJob<Order>({
    name: 'orders',
    source: orders,
    key: (o) => o.id,
    concurrency: 1,
    retry: { maxAttempts: 4, backoff: { kind: 'exponential', initialDelayMs: 1000, jitter: 'none' } },
    breaker: { consecutiveFailures: 5, probeDelayMs: 30_000, maxOpenMs: 120_000 },
    maxFailureRate: 1,
    handler: async (order, ctx) => {
      await upstream(ctx);
      return { id: order.id, sent: true };
    },
  });
}

/** Advances the manual clock until the run settles: what a user's helper would do. */
async function settle<T>(running: Promise<T>, clock: ManualClock): Promise<T> {
  let done = false;
  void running.finally(() => (done = true)).catch(() => undefined);
  for (let step = 0; !done && step < 100_000; step++) await clock.advance(5_000);
  return running;
}

describe('a job tested with batchguard/testing', () => {
  it('retries a flaky call, fails a bad record at once, and trips the breaker on an outage, with no real waiting', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    const flaky = failTimes(2);
    const rejected = failWith(Object.assign(new Error('order rejected'), { status: 422 }));
    const orders: Order[] = [
      { id: 'a', kind: 'flaky' },
      { id: 'b', kind: 'bad' },
      { id: 'c', kind: 'ok' },
    ];
    const upstream = (ctx: { key: string; signal: AbortSignal }): Promise<void> => {
      const order = orders.find((o) => o.id === ctx.key);
      return order?.kind === 'flaky' ? flaky(ctx) : order?.kind === 'bad' ? rejected(ctx) : Promise.resolve();
    };
    const events: EngineEvent[] = [];
    try {
      const summary = await settle(
        runJob(ordersJob(upstream, orders), { ledger, clock, random: () => 0.5, onEvent: (e) => events.push(e) }),
        clock,
      );
      expect(summary).toMatchObject({ status: 'completed', succeeded: 2, failed: 1 });
      expect(flaky.calls).toBe(3);
      expect(events.filter((e) => e.type === 'record:retrying').map((e) => (e as { delayMs: number }).delayMs)).toEqual([1000, 2000]);
      const failed = events.find((e) => e.type === 'record:failed');
      expect(failed).toMatchObject({ key: 'b', kind: 'fatal', attempts: 1 });
      expect(rejected.calls).toBe(1);
    } finally {
      await ledger.close();
    }

    // An outage: every call fails with a 503. The breaker opens after 5 in a row (one record at least
    // failing again among them), probes, and the
    // run aborts (resumable) once it has stayed open for maxOpenMs; the record it hit stays pending.
    const outage = failWith(Object.assign(new Error('service unavailable'), { status: 503 }));
    const many = Array.from({ length: 20 }, (_, i): Order => ({ id: `o${i}`, kind: 'ok' }));
    const outageClock = new ManualClock();
    const outageLedger = memoryLedger();
    try {
      const seen: EngineEvent[] = [];
      const summary = await settle(
        runJob(ordersJob(outage, many), { ledger: outageLedger, clock: outageClock, random: () => 0.5, onEvent: (e) => seen.push(e) }),
        outageClock,
      );
      expect(summary.status).toBe('aborted');
      expect(seen.filter((e) => e.type === 'breaker:opened')).toHaveLength(1);
      expect(summary.reason).toMatch(/^the breaker opened \(\d+ attempts in a row failed/);
      // The record behind the outage is not failed: it stays pending for the next run.
      expect(summary.pending).toBeGreaterThanOrEqual(1);
      expect(outageClock.now()).toBeGreaterThanOrEqual(120_000);
    } finally {
      await outageLedger.close();
    }
    // How long this took in real time is printed by vitest, not asserted: the machine is shared.
  });
});
