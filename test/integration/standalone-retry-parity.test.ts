/**
 * The job engine and the standalone `retry` are one implementation: for the same policy, the same
 * errors and the same random source they wait exactly the same delays.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import type { RetryOptions } from '../../src/policy/retry.js';
import { retry } from '../../src/standalone/retry-policy.js';
import { drive } from '../helpers/drive.js';

/** A seeded generator in [0, 1): the same seed, the same sequence. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** The error of each failing attempt: a 503, one with a Retry-After, a reset connection. */
function errorFor(attempt: number): Error {
  if (attempt === 2) return Object.assign(new Error('slow down'), { status: 429, headers: { 'retry-after': '2' } });
  if (attempt % 2 === 0) return Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  return Object.assign(new Error('unavailable'), { status: 503 });
}

async function engineDelays(policy: RetryOptions, seed: number): Promise<number[]> {
  const clock = new ManualClock();
  const delays: number[] = [];
  const job = defineJob<{ id: string }>({
    name: 'parity',
    source: [{ id: 'only' }],
    key: (r) => r.id,
    retry: policy,
    maxFailureRate: 1,
    handler: (_, ctx) => {
      throw errorFor(ctx.attempt);
    },
  });
  await drive(
    runJob(job, {
      ledger: 'memory',
      clock,
      random: seeded(seed),
      onEvent: (e) => {
        if (e.type === 'record:retrying') delays.push(e.delayMs);
      },
    }),
    clock,
  );
  return delays;
}

async function standaloneDelays(policy: RetryOptions, seed: number): Promise<number[]> {
  const clock = new ManualClock();
  const delays: number[] = [];
  const call = retry(
    ({ attempt }) => {
      throw errorFor(attempt);
    },
    { ...policy, clock, random: seeded(seed), onRetry: (n) => delays.push(n.delayMs) },
  ).catch(() => undefined);
  await clock.runAll();
  await call;
  return delays;
}

describe('engine and standalone retry', () => {
  const policies: [string, RetryOptions][] = [
    ['default', { maxAttempts: 6 }],
    [
      'decorrelated jitter',
      { maxAttempts: 6, backoff: { kind: 'exponential', initialDelayMs: 100, maxDelayMs: 5000, jitter: 'decorrelated' } },
    ],
    ['equal jitter, constant', { maxAttempts: 5, backoff: { kind: 'constant', delayMs: 700, jitter: 'equal' } }],
    ['elapsed budget', { maxAttempts: 10, maxElapsedMs: 4000, backoff: { kind: 'exponential', initialDelayMs: 500, jitter: 'none' } }],
  ];
  for (const [name, policy] of policies) {
    it(`wait the same delays (${name})`, async () => {
      const engine = await engineDelays(policy, 42);
      const standalone = await standaloneDelays(policy, 42);
      expect(engine.length).toBeGreaterThan(1);
      expect(standalone).toEqual(engine);
      // The second attempt's Retry-After (2 s) is a floor in both.
      expect(engine[1]).toBeGreaterThanOrEqual(2000);
    });
  }
});
