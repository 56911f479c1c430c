import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { FatalError, LedgerError, RetryableError } from '../../src/errors.js';
import { defineJob, type JobOptions } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { runJob, startRun } from '../../src/engine/run-job.js';
import { drive } from '../helpers/drive.js';
import { items, itemsJob, type Item } from '../helpers/jobs.js';
import { storedRanges, storedRows } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

function makeJob(overrides: Partial<JobOptions<Item>> = {}) {
  return itemsJob('engine-test', 100, {
    retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } },
    checkpoint: { everyRecords: 10, everyMs: 1000 },
    ...overrides,
  });
}

describe('engine on a real SQLite ledger', () => {
  it('processes every record once and records the outcomes durably', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const calls: string[] = [];
    const job = makeJob({
      handler: async (r, ctx) => {
        calls.push(ctx.key);
        return r.id;
      },
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger, clock }), clock);
    expect(summary).toMatchObject({ status: 'completed', total: 100, succeeded: 100, failed: 0, pending: 0, attempts: 100, retries: 0 });
    expect(new Set(calls).size).toBe(100);
    expect(calls).toHaveLength(100);
    const reopened = openLedger(ledger).ledger;
    expect(await reopened.counts()).toEqual({ total: 100, succeeded: 100, failed: 0, skipped: 0, pending: 0, sourceExhausted: true });
    await reopened.close();
    // Successes are stored as ranges, not one row per record.
    expect((await storedRanges(ledger)).length).toBeLessThan(15);
    expect(await storedRows(ledger)).toEqual([]);
  });

  it('retries retryable errors, fails fatal ones at once, and records attempts and kinds', async () => {
    const dir = tempDir();
    const seen = new Map<string, number>();
    const job = makeJob({
      source: items(4),
      handler: async (r, ctx) => {
        seen.set(ctx.key, ctx.attempt);
        if (r.id === 1 && ctx.attempt < 3) throw new RetryableError('flaky');
        if (r.id === 2) throw new FatalError('bad record', { cause: new Error('field x is missing') });
        if (r.id === 3) throw Object.assign(new Error('upstream down'), { status: 503 });
        return 'ok';
      },
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock, maxFailureRate: 1 }), clock);
    expect(summary).toMatchObject({ succeeded: 2, failed: 2, attempts: 1 + 3 + 1 + 3, retries: 2 + 2 });
    expect(seen.get('1')).toBe(3);
    expect(seen.get('2')).toBe(1);
    const rows = await storedRows(join(dir, 'l.sqlite'));
    expect(rows.map((r) => [r.key, r.kind, r.attempts, r.rule])).toEqual([
      ['2', 'fatal', 1, 'FatalError'],
      ['3', 'exhausted', 3, 'http-status-503'],
    ]);
    expect(rows[0]?.error).toMatchObject({ name: 'FatalError', message: 'bad record', cause: { message: 'field x is missing' } });
  });

  it('abandons an attempt at its timeout, aborts its signal, and discards the late result', async () => {
    const dir = tempDir();
    let aborted = 0;
    let lateResults = 0;
    // The handler's lateness is on the run's clock too: a real timer raced the manual clock's steps,
    // and on a loaded machine the late result came before the timeout (seen once in CI).
    const clock = new ManualClock();
    const job = makeJob({
      source: items(1),
      timeoutMs: 1000,
      retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
      handler: (_r, ctx) =>
        new Promise((resolve) => {
          ctx.signal.addEventListener('abort', () => aborted++);
          // Ignores its signal: resolves far too late.
          void clock.sleep(5000).then(() => {
            lateResults++;
            resolve('late');
          });
        }),
    });
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock, maxFailureRate: 1 }), clock, 600);
    expect(summary).toMatchObject({ succeeded: 0, failed: 1, attempts: 2 });
    expect(aborted).toBe(2);
    expect((await storedRows(join(dir, 'l.sqlite'))).map((row) => row.kind)).toEqual(['timeout']);
    await clock.advance(10_000);
    expect(lateResults).toBe(2);
  });

  it('resumes after a stop: finished records are never handed to the handler again', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    const calls: number[] = [];
    const controller = new AbortController();
    const job = makeJob({
      source: items(1000),
      concurrency: 3,
      handler: async (r) => {
        calls.push(r.id);
        if (r.id === 400) controller.abort('test stop');
      },
    });
    const clock = new ManualClock();
    const first = await drive(runJob(job, { ledger, clock, signal: controller.signal }), clock);
    expect(first.status).toBe('interrupted');
    expect(first.succeeded + first.pending).toBe(first.total);
    const firstCalls = calls.length;
    const second = await drive(runJob(job, { ledger, clock }), clock);
    expect(second).toMatchObject({ status: 'completed', total: 1000, succeeded: 1000, pending: 0, alreadyDone: first.succeeded });
    expect(calls.length - firstCalls).toBe(1000 - first.succeeded);
    expect(new Set(calls).size).toBe(1000);
  });

  it('refuses a second run on a held ledger with LEDGER_LOCKED naming the holder', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'l.sqlite');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = makeJob({ source: items(1), handler: () => gate });
    const clock = new ManualClock();
    // A short lease: the second run waits for the holder's next renewal, which proves it alive.
    const lease = { expireMs: 900, renewEveryMs: 150 };
    const handle = startRun(job, { ledger, clock, lease });
    await clock.advance(1);
    await expect(runJob(job, { ledger, clock, lease })).rejects.toThrow(LedgerError);
    await expect(runJob(job, { ledger, clock, lease })).rejects.toThrow(/held by run .* \(pid \d+/);
    release();
    expect((await drive(handle.done, clock)).status).toBe('completed');
  });

  it('exits over the failure threshold: 10% fatal with maxFailureRate 0.05 exceeds, 3% does not', async () => {
    for (const [share, expected] of [
      [10, 'threshold-exceeded'],
      [3, 'completed'],
    ] as const) {
      const dir = tempDir();
      const job = makeJob({
        source: items(200),
        maxFailureRate: 0.05,
        handler: async (r) => {
          if (r.id % 100 < share) throw new FatalError('bad');
        },
      });
      const clock = new ManualClock();
      const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock);
      expect(summary.status).toBe(expected);
      expect(summary.failed).toBe(share * 2);
    }
  });

  it('records an unparseable item and a failing key function as invalid, and goes on', async () => {
    const dir = tempDir();
    const job = defineJob<{ id?: number }>({
      name: 'invalid-test',
      source: [{ id: 1 }, {}, { id: 3 }],
      key: (r) => {
        if (r.id === undefined) throw new Error('record has no id');
        return String(r.id);
      },
      handler: async () => 'ok',
      maxFailureRate: 1,
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock);
    expect(summary).toMatchObject({ succeeded: 2, failed: 1, total: 3 });
    expect(await storedRows(join(dir, 'l.sqlite'))).toMatchObject([{ key: '@seq:1', kind: 'invalid' }]);
  });
});
