/**
 * A job's own `onEvent`: the same typed events as `runJob`'s option, a success per record with its
 * attempt durations, and subscribers that throw or reject without breaking the run.
 */
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../src/engine/events.js';
import { runJob } from '../../src/engine/run-job.js';
import { FatalError, RetryableError } from '../../src/errors.js';
import { itemsJob } from '../helpers/jobs.js';
import { drive } from '../helpers/drive.js';
import { ManualClock } from '../../src/clock.js';

const quickRetry = { maxAttempts: 3, backoff: { kind: 'constant' as const, delayMs: 1 } };

describe("the job's onEvent", () => {
  it('gets the run option’s events, and a success per record with one duration per attempt', async () => {
    const fromJob: EngineEvent[] = [];
    const fromOption: EngineEvent[] = [];
    const calls = new Map<number, number>();
    const job = itemsJob('hooks', 6, {
      retry: quickRetry,
      onEvent: (event) => void fromJob.push(event),
      handler: async (r) => {
        const call = (calls.get(r.id) ?? 0) + 1;
        calls.set(r.id, call);
        await new Promise((resolve) => setTimeout(resolve, 5));
        if (r.id === 2 && call < 3) throw new RetryableError('try again');
        if (r.id === 5) throw new FatalError('bad record');
        return 'ok';
      },
    });
    const summary = await runJob(job, { ledger: 'memory', onEvent: (event) => void fromOption.push(event) });
    expect(summary).toMatchObject({ succeeded: 5, failed: 1, warnings: [] });
    expect(fromJob.map((e) => e.type)).toEqual(fromOption.map((e) => e.type));
    const successes = fromJob.filter((e): e is Extract<EngineEvent, { type: 'record:succeeded' }> => e.type === 'record:succeeded');
    expect(successes.map((e) => e.key).sort()).toEqual(['0', '1', '2', '3', '4']);
    const retried = successes.find((e) => e.key === '2');
    expect(retried?.attempts).toBe(3);
    expect(retried?.attemptDurationsMs).toHaveLength(3);
    for (const ms of retried?.attemptDurationsMs ?? []) expect(ms).toBeGreaterThanOrEqual(4);
    expect(successes.find((e) => e.key === '0')?.attemptDurationsMs).toHaveLength(1);
    expect(fromJob.some((e) => e.type === 'record:failed' && e.key === '5')).toBe(true);
    expect(fromJob.at(-1)?.type).toBe('run:finished');
  });

  it('a subscriber that throws, or rejects, never breaks the run nor the other subscriber; the summary says so', async () => {
    const seen: string[] = [];
    const throwing = itemsJob('hooks-throw', 50, {
      onEvent: (event) => {
        if (event.type === 'record:succeeded') throw new TypeError(`hook broke on ${event.key}`);
      },
    });
    const summary = await runJob(throwing, { ledger: 'memory', onEvent: (event) => void seen.push(event.type) });
    expect(summary).toMatchObject({ status: 'completed', succeeded: 50 });
    expect(seen.filter((type) => type === 'record:succeeded')).toHaveLength(50);
    expect(summary.warnings).toEqual([
      "the job's onEvent failed 50 time(s), first on a record:succeeded event: TypeError: hook broke on 0; the run went on without those calls",
    ]);

    const rejecting = itemsJob('hooks-reject', 20, {
      onEvent: async (event) => {
        await Promise.resolve();
        if (event.type === 'record:succeeded') throw new Error('async hook broke');
      },
    });
    const again = await runJob(rejecting, { ledger: 'memory' });
    expect(again).toMatchObject({ status: 'completed', succeeded: 20 });
    expect(again.warnings).toHaveLength(1);
    expect(again.warnings[0]).toMatch(/^the job's onEvent failed 20 time\(s\), first on a record:succeeded event: Error: async hook broke/);
  });

  it('with eventTypes, the run option gets only those types, and a success builds no event nobody wants', async () => {
    /** A clock that counts its reads: a success that builds an event reads it for the attempt's duration. */
    class CountingClock extends ManualClock {
      reads = 0;
      override now(): number {
        this.reads++;
        return super.now();
      }
    }
    const run = async (options: { eventTypes?: EngineEvent['type'][] }): Promise<{ types: Set<string>; reads: number }> => {
      const clock = new CountingClock();
      const types = new Set<string>();
      const job = itemsJob('hooks-types', 200, {
        concurrency: 1,
        handler: (r) => {
          if (r.id === 7) throw new FatalError('bad record');
          return 'ok';
        },
      });
      const summary = await drive(
        runJob(job, { ledger: 'memory', clock, onEvent: (event) => void types.add(event.type), ...options }),
        clock,
      );
      expect(summary).toMatchObject({ succeeded: 199, failed: 1 });
      return { types, reads: clock.reads };
    };
    const every = await run({});
    expect(every.types).toContain('record:succeeded');
    expect(every.types).toContain('attempt:ended');
    const failures = await run({ eventTypes: ['record:failed', 'run:finished'] });
    expect(failures.types).toEqual(new Set(['record:failed', 'run:finished']));
    // One read fewer per success: its duration is measured for no one.
    expect(every.reads - failures.reads).toBeGreaterThanOrEqual(199);
  });

  it('an unknown event type in eventTypes is refused, naming it', () => {
    const job = itemsJob('hooks-types-bad', 1);
    expect(() => runJob(job, { ledger: 'memory', eventTypes: ['record:failed', 'record:finished' as never] })).toThrow(
      /^runOptions\.eventTypes\[1\] must be one of run:started, .*; got "record:finished"/,
    );
  });

  it('a job whose onEvent is not a function is refused, naming the field', async () => {
    expect(() => itemsJob('hooks-bad', 1, { onEvent: 'log' as never })).toThrow(/^onEvent must be a function/);
  });
});
