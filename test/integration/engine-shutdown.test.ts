import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { runJob, startRun } from '../../src/engine/run-job.js';
import { BatchguardError, FatalError, RetryableError } from '../../src/errors.js';
import type { JobOptions } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import type { Summary } from '../../src/report/summary.js';
import { drive } from '../helpers/drive.js';
import { items, itemsJob, type Item } from '../helpers/jobs.js';
import { storedRanges, storedRows } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

function makeJob(overrides: Partial<JobOptions<Item>>) {
  return itemsJob('shutdown-test', 5, {
    concurrency: 5,
    shutdownGraceMs: 1000,
    timeoutMs: 600_000,
    retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 5000 } },
    checkpoint: { everyRecords: 100, everyMs: 60_000 },
    ...overrides,
  });
}

/** A promise that rejects with the signal's reason when it aborts: a handler that honours its signal. */
function untilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
}

/** Tracks whether a promise has settled. */
function track<T>(promise: Promise<T>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

/**
 * Lets the run finish without moving the manual clock: only real I/O and promise callbacks run.
 * Fails if the promise needs clock time to settle.
 */
async function settleWithoutTime<T>(promise: Promise<T>, clock: ManualClock): Promise<T> {
  const before = clock.now();
  const state = track(promise);
  // Bounded in real time, not in turns: on a loaded machine the report files take longer to write.
  const deadline = Date.now() + 10_000;
  while (!state.settled && Date.now() < deadline) await new Promise<void>((resolve) => setTimeout(resolve, 1));
  expect(state.settled, 'the run should end without the clock moving').toBe(true);
  expect(clock.now()).toBe(before);
  return promise;
}

function expectExact(summary: Summary): void {
  expect(summary.total).toBe(summary.succeeded + summary.failed + summary.skipped + summary.pending);
}

async function ledgerRows(path: string): Promise<{ ranges: unknown[]; records: unknown[] }> {
  return {
    ranges: await storedRanges(path),
    records: (await storedRows(path)).map(({ seq, status, kind }) => ({ seq, status, kind: kind ?? null })),
  };
}

describe('engine shutdown', () => {
  it('stop(): running attempts get the grace period, are aborted at its end and stay pending; the next run does exactly them', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const calls: number[][] = [[], []];
    const abortReasons: unknown[] = [];
    let runIndex = 0;
    const job = makeJob({
      handler: (r, ctx) => {
        (calls[runIndex] as number[]).push(r.id);
        if (runIndex === 0 && r.id % 2 === 1) {
          ctx.signal.addEventListener('abort', () => abortReasons.push(ctx.signal.reason));
          return untilAborted(ctx.signal);
        }
        return 'ok';
      },
    });
    const clock = new ManualClock();
    const events: EngineEvent[] = [];
    const handle = startRun(job, { ledger, clock, onEvent: (e) => events.push(e) });
    await clock.advance(0);
    expect(handle.progress()).toMatchObject({ inFlight: 2, succeeded: 3, stopping: undefined });

    handle.stop('test stop');
    expect(handle.progress().stopping).toBe('test stop');
    expect(events.filter((e) => e.type === 'run:stopping')).toEqual([{ type: 'run:stopping', reason: 'test stop' }]);
    const done = track(handle.done);
    await clock.advance(999);
    expect(abortReasons).toEqual([]);
    expect(handle.progress().inFlight).toBe(2);
    expect(done.settled).toBe(false);

    await clock.advance(1);
    expect(abortReasons).toHaveLength(2);
    for (const reason of abortReasons) expect(reason).toMatchObject({ name: 'BatchguardError', code: 'STOPPED' });
    expect(abortReasons[0]).toBeInstanceOf(BatchguardError);
    const first = await drive(handle.done, clock);
    expect(first).toMatchObject({
      status: 'interrupted',
      total: 5,
      succeeded: 3,
      failed: 0,
      skipped: 0,
      pending: 2,
      attempts: 5,
      retries: 0,
      thisRun: { succeeded: 3, failed: 0, skipped: 0 },
    });
    expectExact(first);
    expect(first.reason).toBe('stopped by test stop; 2 records left pending');
    expect(await ledgerRows(ledger)).toEqual({
      ranges: [
        { first: 0, last: 0 },
        { first: 2, last: 2 },
        { first: 4, last: 4 },
      ],
      records: [],
    });

    runIndex = 1;
    const second = await drive(runJob(job, { ledger, clock }), clock);
    expect(calls[1]).toEqual([1, 3]);
    expect(second).toMatchObject({ status: 'completed', total: 5, succeeded: 5, pending: 0, alreadyDone: 3, attempts: 2 });
    expectExact(second);
  });

  it('a record waiting for a retry when stop() is called stays pending at once', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const calls = new Map<number, number>();
    const job = makeJob({
      source: items(3),
      handler: (r, ctx) => {
        calls.set(r.id, (calls.get(r.id) ?? 0) + 1);
        if (r.id === 0) throw new RetryableError('try later');
        if (r.id === 2) return untilAborted(ctx.signal);
        return 'ok';
      },
    });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    // Record 0 waits for its retry without a slot; record 2 runs.
    expect(handle.progress().inFlight).toBe(1);
    expect(clock.sleepingFor()).toContain(5000);

    handle.stop('test stop');
    // Synchronously: the waiting record's retry timer is gone.
    expect(handle.progress().inFlight).toBe(1);
    expect(clock.sleepingFor()).not.toContain(5000);

    await clock.advance(1000);
    const summary = await drive(handle.done, clock);
    expect(calls).toEqual(
      new Map([
        [0, 1],
        [1, 1],
        [2, 1],
      ]),
    );
    expect(summary).toMatchObject({ status: 'interrupted', total: 3, succeeded: 1, failed: 0, pending: 2, attempts: 3, retries: 1 });
    expectExact(summary);
    expect((await ledgerRows(ledger)).records).toEqual([]);
  });

  it('stop() with only records waiting for a retry ends the run without waiting for the grace period', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const job = makeJob({
      source: items(2),
      shutdownGraceMs: 10_000,
      handler: () => {
        throw new RetryableError('try later');
      },
    });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    handle.stop('test stop');
    const summary = await settleWithoutTime(handle.done, clock);
    expect(summary).toMatchObject({ status: 'interrupted', total: 2, succeeded: 0, failed: 0, pending: 2, attempts: 2 });
  });

  it('forceStop() abandons running attempts at once, without waiting for the grace period', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const aborted: unknown[] = [];
    const job = makeJob({
      source: items(3),
      shutdownGraceMs: 60_000,
      handler: (r, ctx) => {
        if (r.id === 1) return 'ok';
        ctx.signal.addEventListener('abort', () => aborted.push(r.id));
        return untilAborted(ctx.signal);
      },
    });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    expect(handle.progress().inFlight).toBe(2);
    handle.forceStop('second signal');
    expect(aborted).toEqual([0, 2]);
    expect(handle.progress().inFlight).toBe(0);
    const summary = await settleWithoutTime(handle.done, clock);
    expect(summary).toMatchObject({ status: 'interrupted', total: 3, succeeded: 1, failed: 0, pending: 2 });
    expect(summary.reason).toBe('stopped by second signal; 2 records left pending');
    expectExact(summary);
  });

  it('forceStop() during the grace period of a stop() abandons at once', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const job = makeJob({ source: items(1), shutdownGraceMs: 60_000, handler: (_r, ctx) => untilAborted(ctx.signal) });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    handle.stop('first signal');
    await clock.advance(100);
    expect(handle.progress().inFlight).toBe(1);
    handle.forceStop('second signal');
    const summary = await settleWithoutTime(handle.done, clock);
    expect(clock.now()).toBe(100);
    // The first reason is kept.
    expect(summary).toMatchObject({ status: 'interrupted', pending: 1, reason: 'stopped by first signal; 1 record left pending' });
  });

  it('a handler that resolves normally within the grace period is recorded succeeded', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const calls: number[] = [];
    let aborted = 0;
    const job = makeJob({
      source: items(3),
      concurrency: 1,
      handler: async (r, ctx) => {
        calls.push(r.id);
        ctx.signal.addEventListener('abort', () => aborted++);
        await clock.sleep(500);
        return r.id;
      },
    });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    handle.stop('test stop');
    await clock.advance(500);
    const first = await drive(handle.done, clock);
    expect(aborted).toBe(0);
    expect(calls).toEqual([0]);
    // Records 1 and 2 were never read: they are not counted yet.
    expect(first).toMatchObject({ status: 'interrupted', total: 1, succeeded: 1, failed: 0, pending: 0, thisRun: { succeeded: 1 } });
    expectExact(first);

    const second = await drive(runJob(job, { ledger, clock }), clock);
    expect(calls).toEqual([0, 1, 2]);
    expect(second).toMatchObject({ status: 'completed', total: 3, succeeded: 3, pending: 0, alreadyDone: 1 });
  });

  it('ignores the late result of an abandoned attempt: no outcome, exact counts, redone by the next run', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    let runIndex = 0;
    let releaseIgnorer: ((value: string) => void) | undefined;
    const calls: number[][] = [[], []];
    const job = makeJob({
      source: items(4),
      maxFailureRate: 1,
      handler: (r, ctx) => {
        (calls[runIndex] as number[]).push(r.id);
        if (runIndex === 1) return 'ok';
        switch (r.id) {
          case 0:
            // Swallows the abort and returns a value.
            return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('partial')));
          case 1:
            // Turns the abort into a fatal error.
            return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new FatalError('aborted mid-way'))));
          case 2:
            // Ignores its signal and finishes long after the run ended.
            return new Promise((resolve) => (releaseIgnorer = resolve));
          default:
            return 'ok';
        }
      },
    });
    const clock = new ManualClock();
    const events: EngineEvent[] = [];
    const handle = startRun(job, { ledger, clock, onEvent: (e) => events.push(e) });
    await clock.advance(0);
    handle.stop('test stop');
    await clock.advance(1000);
    const first = await drive(handle.done, clock);
    expect(first).toMatchObject({
      status: 'interrupted',
      total: 4,
      succeeded: 1,
      failed: 0,
      skipped: 0,
      pending: 3,
      attempts: 4,
      thisRun: { succeeded: 1, failed: 0, skipped: 0 },
    });
    expectExact(first);
    expect(events.filter((e) => e.type === 'record:failed' || e.type === 'record:retrying')).toEqual([]);

    releaseIgnorer?.('very late');
    await clock.advance(10);
    const reopened = openLedger(ledger).ledger;
    expect(await reopened.counts()).toEqual({ total: 4, succeeded: 1, failed: 0, skipped: 0, pending: 3, sourceExhausted: true });
    await reopened.close();
    expect(await ledgerRows(ledger)).toEqual({ ranges: [{ first: 3, last: 3 }], records: [] });

    runIndex = 1;
    const second = await drive(runJob(job, { ledger, clock }), clock);
    expect(calls[1]).toEqual([0, 1, 2]);
    expect(second).toMatchObject({ status: 'completed', total: 4, succeeded: 4, failed: 0, pending: 0, alreadyDone: 1 });
    expectExact(second);
  });

  it('stop() after the run has ended leaves no timer behind and changes nothing', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const job = makeJob({ source: items(2) });
    const clock = new ManualClock();
    const events: EngineEvent[] = [];
    const handle = startRun(job, { ledger, clock, onEvent: (e) => events.push(e) });
    const summary = await drive(handle.done, clock);
    expect(summary.status).toBe('completed');
    handle.stop('too late');
    expect(clock.pendingSleeps).toBe(0);
    expect(events.at(-1)?.type).toBe('run:finished');
  });

  it('stop() ends a run whose source is waiting for its next record', async () => {
    const ledger = join(tempDir(), 'l.sqlite');
    const job = makeJob({
      // A source that yields one record and then waits (a paged API, a queue) and never yields again.
      source: () =>
        (async function* () {
          yield { id: 0 };
          await new Promise<never>(() => undefined);
        })(),
    });
    const clock = new ManualClock();
    const handle = startRun(job, { ledger, clock });
    await clock.advance(0);
    expect(handle.progress()).toMatchObject({ read: 1, succeeded: 1, inFlight: 0 });
    handle.stop('test stop');
    const stoppedAt = clock.now();
    const done = track(handle.done);
    // Clock time moves only while the run has not settled; real I/O (the reports) may take a few
    // turns on a loaded machine, so the bound is on real time, and the check on clock time.
    const realDeadline = Date.now() + 10_000;
    while (!done.settled && Date.now() < realDeadline) {
      if (clock.now() - stoppedAt < 2000) await clock.advance(50);
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(done.settled, 'the run should end within the grace period').toBe(true);
    expect(clock.now() - stoppedAt).toBeLessThanOrEqual(2000);
    expect(await handle.done).toMatchObject({ status: 'interrupted', total: 1, succeeded: 1, pending: 0 });
  });
});
