import { describe, expect, it } from 'vitest';
import type { SharedBreakerState } from '../engine/shared-breaker.js';
import type { SharedRunState, WorkerLedger } from '../ledger/worker-ledger.js';
import { BreakerTripReason } from '../policy/breaker.js';
import { SharedBreakerLink } from './shared-breaker-link.js';

const RUNNING: SharedRunState = {
  status: 'running',
  abortReason: undefined,
  breaker: 'closed',
  breakerOpenMs: 0,
  breakerReason: undefined,
  probeOwner: undefined,
  total: 10,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  chunksOpen: 1,
  chunksLeased: 0,
  chunksDone: 0,
};
const TRIP = {
  reason: BreakerTripReason.consecutiveFailures,
  description: '8 attempts in a row failed',
  fingerprint: undefined,
  failures: 8,
  window: 8,
};

/** The breaker calls of a worker ledger, each answered when the test says. */
function ledger() {
  const calls: unknown[][] = [];
  let answer: (value: boolean) => void = () => {};
  const pending = (...call: unknown[]): Promise<boolean> => {
    calls.push(call);
    return new Promise((resolve) => (answer = resolve));
  };
  const workers = {
    openBreaker: (runId: string, reason: string) => pending('open', runId, reason),
    claimProbe: (runId: string, owner: string, leaseMs: number) => pending('claim', runId, owner, leaseMs),
    closeBreaker: (runId: string, owner: string) => pending('close', runId, owner),
  } as unknown as WorkerLedger;
  return { workers, calls, answer: (value: boolean) => answer(value) };
}

function link(workers: WorkerLedger): { link: SharedBreakerLink; seen: SharedBreakerState[] } {
  const made = new SharedBreakerLink({ ledger: workers, runId: 'r', owner: 'me', worker: 'worker me on h', slackMs: 3000 });
  const seen: SharedBreakerState[] = [];
  made.watch((state) => seen.push(state));
  return { link: made, seen };
}

describe('SharedBreakerLink', () => {
  it('passes the states the heartbeat reads on, while the run is running', () => {
    const { link: l, seen } = link(ledger().workers);
    l.observe({ ...RUNNING, breaker: 'open', breakerOpenMs: 1200, breakerReason: 'worker w on h: down' }, performance.now());
    l.observe({ ...RUNNING, status: 'aborted' }, performance.now());
    expect(seen).toEqual([{ open: true, openMs: 1200, reason: 'worker w on h: down' }]);
    expect(l.current()).toEqual(seen[0]);
  });

  it("drops a read that may not show this worker's trip: sent before the trip was stored, or while it was being stored", async () => {
    const { workers, calls, answer } = ledger();
    const { link: l, seen } = link(workers);
    const sentBefore = performance.now();
    const publishing = l.publishTrip(TRIP);
    expect(calls).toEqual([['open', 'r', 'worker me on h: 8 attempts in a row failed']]);
    l.observe(RUNNING, performance.now());
    answer(true);
    await publishing;
    l.observe(RUNNING, sentBefore);
    expect(seen).toEqual([]);
    // Open from now on for a chunk's run that starts before the next heartbeat.
    expect(l.current()).toMatchObject({ open: true });
    await new Promise((resolve) => setTimeout(resolve, 2));
    l.observe(RUNNING, performance.now());
    expect(seen).toEqual([{ open: false, openMs: 0, reason: undefined }]);
  });

  it('claims the probe for one probe and the slack, and keeps the reads that race a claim', async () => {
    const { workers, calls, answer } = ledger();
    const { link: l, seen } = link(workers);
    const claiming = l.tryProbe(5500);
    l.observe(RUNNING, performance.now());
    answer(true);
    expect(await claiming).toBe(true);
    expect(calls).toEqual([['claim', 'r', 'me', 8500]]);
    expect(seen).toHaveLength(1);
  });

  it('closes for all, and says so only when this worker held the probe', async () => {
    const { workers, answer } = ledger();
    const { link: l } = link(workers);
    l.observe({ ...RUNNING, breaker: 'open' }, performance.now());
    const refused = l.publishClose();
    answer(false);
    expect(await refused).toBe(false);
    expect(l.current()).toMatchObject({ open: true });
    const closing = l.publishClose();
    answer(true);
    expect(await closing).toBe(true);
    expect(l.current()).toMatchObject({ open: false });
  });
});
