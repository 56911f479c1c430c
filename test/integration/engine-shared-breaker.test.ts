/**
 * A run's breaker with a shared breaker (the engine's `sharedBreaker` port, as `run --worker` sets
 * it), on a manual clock and the memory ledger, with the port played by the test: it pushes the
 * states a heartbeat would read, grants or refuses the right to probe, and keeps what the run
 * published. (The port over PostgreSQL, with worker processes: test/e2e/shared-breaker.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { defineJob } from '../../src/job.js';
import { runJob } from '../../src/engine/run-job.js';
import type { EngineEvent } from '../../src/engine/events.js';
import type { SharedBreaker, SharedBreakerState } from '../../src/engine/shared-breaker.js';
import type { Trip } from '../../src/policy/breaker.js';
import { drive } from '../helpers/drive.js';

interface Item {
  id: number;
}

/** The shared breaker as the test plays it. */
class PlayedSharedBreaker implements SharedBreaker {
  readonly trips: Trip[] = [];
  readonly claims: number[] = [];
  closes = 0;
  /** Whether a claim of the probe right succeeds now. */
  grant: () => boolean = () => true;
  private state: SharedBreakerState | undefined;
  private readonly listeners = new Set<(state: SharedBreakerState) => void>();

  constructor(initial?: SharedBreakerState) {
    this.state = initial;
  }

  /** What a heartbeat reads. */
  push(state: SharedBreakerState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  current(): SharedBreakerState | undefined {
    return this.state;
  }

  watch(listener: (state: SharedBreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publishTrip(trip: Trip): Promise<void> {
    this.trips.push(trip);
    this.state = { open: true, openMs: 0, reason: trip.description };
    return Promise.resolve();
  }

  tryProbe(probeMs: number): Promise<boolean> {
    this.claims.push(probeMs);
    return Promise.resolve(this.grant());
  }

  publishClose(): Promise<boolean> {
    this.closes++;
    this.state = { open: false, openMs: 0, reason: undefined };
    return Promise.resolve(true);
  }
}

const OPEN = { open: true, openMs: 0, reason: 'worker w2 on host-b: 8 attempts in a row failed' } as const;
const CLOSED = { open: false, openMs: 0, reason: undefined } as const;

/** A run of 200 records on `clock`: each call takes 20 ms and fails while `down()`; calls and breaker events kept with their times. */
function setUp(clock: ManualClock, down: () => boolean = () => false) {
  const calls: { at: number; ok: boolean }[] = [];
  const events: { at: number; event: EngineEvent }[] = [];
  const successes = new Map<number, number>();
  const job = defineJob<Item>({
    name: 'shared-breaker',
    source: Array.from({ length: 200 }, (_, id) => ({ id })),
    key: (r) => String(r.id),
    concurrency: 4,
    timeoutMs: 5000,
    retry: { maxAttempts: 5, backoff: { kind: 'constant', delayMs: 100 } },
    breaker: { consecutiveFailures: 8, windowRecords: 50, minRecords: 10, probeDelayMs: 200, maxProbeDelayMs: 1000, maxOpenMs: 60_000 },
    handler: async (r) => {
      const call = { at: clock.now(), ok: false };
      calls.push(call);
      await clock.sleep(20);
      if (down()) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.7:5432'), { code: 'ECONNREFUSED' });
      call.ok = true;
      successes.set(r.id, (successes.get(r.id) ?? 0) + 1);
    },
  });
  const onEvent = (event: EngineEvent): void => {
    if (event.type.startsWith('breaker:') || event.type === 'run:aborted') events.push({ at: clock.now(), event });
  };
  const at = (type: EngineEvent['type']): number[] => events.filter((e) => e.event.type === type).map((e) => e.at);
  return { job, calls, events, successes, onEvent, at };
}

/** Advances `clock` to `ms`, a step at a time. */
async function until(clock: ManualClock, ms: number): Promise<void> {
  while (clock.now() < ms) await clock.advance(10);
}

describe('a run following a shared breaker', () => {
  it("opens when the shared breaker opens, calls nothing while another worker holds the probe, and closes with the others' close", async () => {
    const clock = new ManualClock();
    const shared = new PlayedSharedBreaker();
    shared.grant = () => false;
    const run = setUp(clock);
    const done = runJob(run.job, { ledger: 'memory', clock, onEvent: run.onEvent, sharedBreaker: shared });
    await until(clock, 300);
    shared.push(OPEN);
    const [opened] = run.at('breaker:opened');
    expect(opened).toBe(300);
    expect(run.events[0]?.event).toMatchObject({
      type: 'breaker:opened',
      reason: 'shared',
      description: expect.stringContaining(OPEN.reason),
    });
    await until(clock, 3000);
    // The calls in flight when it opened end; none starts while another worker probes.
    expect(run.calls.filter((c) => c.at > 300)).toEqual([]);
    expect(shared.claims.length).toBeGreaterThanOrEqual(5);
    // The right covers one attempt: timeoutMs, swept a tenth late at most.
    expect(shared.claims[0]).toBe(5500);
    shared.push(CLOSED);
    expect(run.events.map((e) => [e.at, e.event.type])).toEqual([
      [300, 'breaker:opened'],
      [3000, 'breaker:closed'],
    ]);
    const summary = await drive(done, clock, 10);
    expect(summary).toMatchObject({ status: 'completed', succeeded: 200, failed: 0, breaker: { state: 'closed', trips: 1 } });
    expect([...run.successes.values()].every((n) => n === 1) && run.successes.size === 200).toBe(true);
    // It published neither a trip (the trip was another's) nor a close (its probes closed nothing).
    expect([shared.trips, shared.closes]).toEqual([[], 0]);
  });

  it('starts open when the shared breaker is open already, before it reads a record', async () => {
    const clock = new ManualClock();
    const shared = new PlayedSharedBreaker(OPEN);
    shared.grant = () => false;
    const run = setUp(clock);
    const done = runJob(run.job, { ledger: 'memory', clock, onEvent: run.onEvent, sharedBreaker: shared });
    await until(clock, 2000);
    expect(run.calls).toEqual([]);
    expect(run.at('breaker:opened')).toEqual([0]);
    shared.push(CLOSED);
    expect(await drive(done, clock, 10)).toMatchObject({ status: 'completed', succeeded: 200, failed: 0 });
  });

  it('publishes its own trip once, probes only with the right, and publishes the close of its probes', async () => {
    const clock = new ManualClock();
    const shared = new PlayedSharedBreaker();
    // Another worker holds the right until 2500.
    shared.grant = () => clock.now() >= 2500;
    const run = setUp(clock, () => clock.now() >= 1000 && clock.now() < 4000);
    const done = runJob(run.job, { ledger: 'memory', clock, onEvent: run.onEvent, sharedBreaker: shared });
    const summary = await drive(done, clock, 10);
    expect(summary).toMatchObject({ status: 'completed', succeeded: 200, failed: 0, breaker: { trips: 1 } });
    expect(shared.trips.map((t) => t.reason)).toEqual(['consecutive-failures']);
    const [opened] = run.at('breaker:opened');
    // Only the calls in flight when it opened, then nothing until it holds the right.
    const before = run.calls.filter((c) => c.at > (opened as number) + 20 && c.at < 2500);
    expect(before).toEqual([]);
    expect(run.calls.some((c) => c.at >= 2500 && c.at < 4000)).toBe(true);
    expect(shared.closes).toBe(1);
    expect(run.at('breaker:closed')[0]).toBeGreaterThanOrEqual(4000);
  });

  it('gives up when the shared breaker has been open for maxOpenMs, whenever this run opened', async () => {
    const clock = new ManualClock();
    const shared = new PlayedSharedBreaker();
    shared.grant = () => false;
    const run = setUp(clock);
    const done = runJob(run.job, { ledger: 'memory', clock, onEvent: run.onEvent, sharedBreaker: shared });
    await until(clock, 500);
    // Opened by another worker 50 s ago: 10 s left of maxOpenMs (60 s).
    shared.push({ ...OPEN, openMs: 50_000 });
    const summary = await drive(done, clock, 10);
    expect(summary.status).toBe('aborted');
    const [aborted] = run.at('run:aborted');
    expect(aborted).toBeGreaterThanOrEqual(10_500);
    expect(aborted).toBeLessThanOrEqual(10_500 + 200);
  });

  it('gives up at once when a heartbeat shows the shared breaker open past maxOpenMs', async () => {
    const clock = new ManualClock();
    const shared = new PlayedSharedBreaker();
    shared.grant = () => false;
    const run = setUp(clock);
    const done = runJob(run.job, { ledger: 'memory', clock, onEvent: run.onEvent, sharedBreaker: shared });
    await until(clock, 500);
    shared.push(OPEN);
    await until(clock, 1000);
    shared.push({ ...OPEN, openMs: 60_000 });
    expect(run.at('run:aborted')).toEqual([1000]);
    expect((await drive(done, clock, 10)).status).toBe('aborted');
  });
});
