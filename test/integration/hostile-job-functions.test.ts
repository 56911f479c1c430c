/**
 * The job's other functions (key, dependsOn, rateLimitKey, classify, a backoff function,
 * healthCheck) throwing or returning values that cannot be inspected or printed: each fails its own
 * record or is ignored, and the run ends normally, never with an exception out of the engine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { itemsJob } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

const ledger = (): string => join(tempDir(), 'ledger.sqlite');

describe('hostile job functions', () => {
  it('key, dependsOn and rateLimitKey that throw a revoked proxy or return a BigInt fail their record as invalid', async () => {
    const job = itemsJob('hostile-keys', 20, {
      maxFailureRate: 1,
      key: (r) => {
        if (r.id === 3) throw revoked();
        if (r.id === 4) return 4n as never;
        if (r.id === 5) return revoked() as never;
        return String(r.id);
      },
      dependsOn: (r) => {
        if (r.id === 6) throw revoked();
        if (r.id === 7) return [7n] as never;
        return [];
      },
      rateLimit: { perSecond: 10_000 },
      perKeyRateLimit: { perSecond: 10_000 },
      rateLimitKey: (r) => {
        if (r.id === 8) throw revoked();
        return 'all';
      },
    });
    const summary = await runJob(job, { ledger: ledger() });
    expect(summary).toMatchObject({ status: 'completed', total: 20, succeeded: 14, failed: 6, pending: 0 });
    const messages = readFileSync((summary.reports as { failures: string }).failures, 'utf8');
    expect(messages).toContain('job.key threw: an object that cannot be shown');
    expect(messages).toMatch(/job\.key must return a non-empty string; got (4|an object that cannot be shown)/);
    expect(messages).toContain('job.dependsOn failed: an object that cannot be shown');
  });

  it('a classify hook that throws a revoked proxy is ignored: the built-in rules decide', async () => {
    const job = itemsJob('hostile-classify', 10, {
      maxFailureRate: 1,
      retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
      classify: () => {
        throw revoked();
      },
      handler: async (r) => {
        if (r.id === 2) throw new TypeError('a bug in the handler');
        return 'ok';
      },
    });
    const summary = await runJob(job, { ledger: ledger() });
    expect(summary).toMatchObject({ status: 'completed', succeeded: 9, failed: 1, attempts: 10 });
  });

  it('a backoff function that throws a frozen error or a revoked proxy fails the record, fatal', async () => {
    const job = itemsJob('hostile-backoff', 10, {
      maxFailureRate: 1,
      retry: {
        maxAttempts: 3,
        backoff: {
          kind: 'custom',
          delayMs: (_attempt, error) => {
            if ((error as Error).message === 'first') throw Object.freeze(new Error('frozen backoff error'));
            throw revoked();
          },
        },
      },
      handler: async (r) => {
        if (r.id === 1) throw new Error('first');
        if (r.id === 2) throw new Error('second');
        return 'ok';
      },
    });
    const summary = await runJob(job, { ledger: ledger() });
    expect(summary).toMatchObject({ status: 'completed', succeeded: 8, failed: 2, attempts: 10 });
    expect(summary.topErrors.map((e) => e.message).sort()).toEqual(['frozen backoff error', expect.any(String)]);
  });

  it('a health check that throws a revoked proxy aborts the run with a readable reason', async () => {
    const job = itemsJob('hostile-health', 10, {
      healthCheck: () => {
        throw revoked();
      },
      healthCheckPolicy: { maxAttempts: 2, delayMs: 1 },
    });
    const summary = await runJob(job, { ledger: ledger() });
    expect(summary.status).toBe('aborted');
    expect(summary.reason).toMatch(/^the health check failed 2 time\(s\): /);
    expect(summary.succeeded).toBe(0);
  });
});
