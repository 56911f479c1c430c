import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { ConfigError, FatalError } from '../errors.js';
import { isolate, type IsolatedOutcome } from './isolate.js';
import { classify, fingerprint } from './error-tools.js';
import { retry, retryPolicy } from './retry-policy.js';
import { errorFingerprint } from '../policy/fingerprint.js';

async function* slowly<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

describe('isolate', () => {
  it('streams one outcome per record; failures are outcomes and the others go on', async () => {
    const clock = new ManualClock();
    const tries = new Map<number, number>();
    const run = isolate(
      slowly([1, 2, 3, 4, 5]),
      (n) => {
        tries.set(n, (tries.get(n) ?? 0) + 1);
        if (n === 2) throw new FatalError(`record ${n} is bad`);
        if (n === 4 && (tries.get(n) ?? 0) < 2) throw new Error('flaky');
        return n * 10;
      },
      { key: (n) => `n${n}`, concurrency: 2, retry: { clock, random: () => 0 } },
    );
    const seen: IsolatedOutcome<number, number>[] = [];
    const consumed = (async () => {
      for await (const outcome of run) seen.push(outcome);
    })();
    await clock.runAll();
    await consumed;
    expect(seen.map((o) => o.key).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
    const failed = seen.find((o) => o.status === 'failed');
    expect(failed).toMatchObject({ key: 'n2', kind: 'fatal', attempts: 1, serialized: { name: 'FatalError', message: 'record 2 is bad' } });
    expect(seen.find((o) => o.key === 'n4')).toMatchObject({ status: 'succeeded', attempts: 2, value: 40 });
    const summary = await run.summary();
    expect(summary).toMatchObject({ total: 5, succeeded: 4, failed: 1, attempts: 6, retries: 1, failureRate: 0.2 });
    expect(summary.topErrors).toEqual([
      {
        fingerprint: failed?.status === 'failed' ? failed.fingerprint : '',
        name: 'FatalError',
        message: 'record 2 is bad',
        count: 1,
        sampleKeys: ['n2'],
      },
    ]);
  });

  it('gives the summary without iterating, over a plain array, with exhausted retries', async () => {
    const clock = new ManualClock();
    const run = isolate(
      ['a', 'b'],
      (s) => {
        if (s === 'b') throw Object.assign(new Error('upstream down'), { status: 503 });
        return s;
      },
      { retry: { maxAttempts: 3, clock, random: () => 0 } },
    );
    const summary = run.summary();
    await clock.runAll();
    expect(await summary).toMatchObject({ total: 2, succeeded: 1, failed: 1, attempts: 4, retries: 2 });
  });

  it("with a prebuilt retryPolicy, reports through that policy's classify and times the run on its clock", async () => {
    const clock = new ManualClock(5_000);
    // The job-style hook makes a 404 retryable: after its attempts it is exhausted, not fatal.
    const policy = retryPolicy({
      maxAttempts: 2,
      backoff: { kind: 'constant', delayMs: 1000 },
      classify: (error) => ((error as { status?: number }).status === 404 ? 'retryable' : undefined),
      clock,
    });
    const run = isolate(
      ['missing'],
      () => {
        throw Object.assign(new Error('not found yet'), { status: 404 });
      },
      { retry: policy },
    );
    const outcomes: IsolatedOutcome<string, never>[] = [];
    const consumed = (async () => {
      for await (const outcome of run) outcomes.push(outcome);
    })();
    await clock.runAll();
    await consumed;
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: 'failed', kind: 'exhausted', attempts: 2, rule: 'classify-hook' });
    const failed = outcomes[0] as Extract<IsolatedOutcome<string, never>, { status: 'failed' }>;
    expect(failed.fingerprint).toBe(errorFingerprint(failed.serialized, { kind: 'exhausted', rule: 'classify-hook' }).fingerprint);
    // One wait of 1 s on the policy's manual clock, not the system clock's milliseconds since 1970.
    expect((await run.summary()).elapsedMs).toBe(1000);
  });

  it('never holds more than `concurrency` records in the handler', async () => {
    let running = 0;
    let most = 0;
    const run = isolate(
      Array.from({ length: 20 }, (_, i) => i),
      async () => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setImmediate(resolve));
        running--;
      },
      { concurrency: 3 },
    );
    expect((await run.summary()).succeeded).toBe(20);
    expect(most).toBe(3);
  });

  it('fails a record whose key cannot be computed as invalid, without calling the handler', async () => {
    let calls = 0;
    const run = isolate(
      [{ id: 1 }, null],
      () => {
        calls++;
      },
      { key: (r) => String((r as { id: number }).id) },
    );
    const outcomes: IsolatedOutcome<unknown, unknown>[] = [];
    for await (const outcome of run) outcomes.push(outcome);
    expect(calls).toBe(1);
    expect(outcomes.find((o) => o.status === 'failed')).toMatchObject({ key: '@index:1', kind: 'invalid', attempts: 0 });
  });
  it('refuses a signal that is not an AbortSignal, naming the option, as retry() does for its own', async () => {
    expect(() => isolate([1], () => 1, { signal: 'stop' as never })).toThrow(
      new ConfigError('isolate signal must be an AbortSignal (controller.signal); got "stop"', { field: 'isolate signal' }),
    );
    await expect(retry(() => 1, {}, { signal: {} as never })).rejects.toThrow(
      new ConfigError('retry signal must be an AbortSignal (controller.signal); got {}', { field: 'retry signal' }),
    );
  });
});

describe('classify and fingerprint', () => {
  it('classify names the rule; fingerprint groups by identity, not wording', () => {
    expect(classify(Object.assign(new Error('x'), { status: 503 }))).toEqual({ classification: 'retryable', rule: 'http-status-503' });
    expect(classify(new TypeError('x is not a function'))).toEqual({ classification: 'fatal', rule: 'programming-TypeError' });
    const a = fingerprint(Object.assign(new Error('no row 17'), { code: 'E_NOROW' }));
    const b = fingerprint(Object.assign(new Error('no row 943'), { code: 'E_NOROW' }));
    expect(a.fingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(a.template).toBe('no row <n>');
  });
});
