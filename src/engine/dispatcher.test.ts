import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock.js';
import { Dispatcher } from './dispatcher.js';
import { FairScheduler } from './fair-scheduler.js';
import { openRecord, Phase, type OpenRecord } from './open-record.js';

/**
 * A dispatcher with fairness keys (one record of a key at a time) and a stand-in for the executor:
 * a started record runs, unless the breaker is open and it is not the probe (then it is parked
 * unrun, as the executor does). Records the most records of one key that were running at once.
 */
function harness() {
  const fair = new FairScheduler<OpenRecord>({ perKeyConcurrency: 1 });
  const breaker = { open: false, probe: undefined as OpenRecord | undefined };
  const mostRunning = new Map<string, number>();
  let seq = 0;
  const dispatcher: Dispatcher = new Dispatcher({
    limit: () => 8,
    clock: new ManualClock(),
    fair,
    mayStart: () => true,
    start: (entry) => {
      if (breaker.open && entry !== breaker.probe) {
        dispatcher.park(entry);
        return;
      }
      entry.attempt++;
      dispatcher.move(entry, Phase.running);
      const key = entry.fairKey as string;
      const running = records.filter((r) => r.fairKey === key && r.phase === Phase.running).length;
      mostRunning.set(key, Math.max(mostRunning.get(key) ?? 0, running));
    },
    wake: () => {},
  });
  const records: OpenRecord[] = [];
  const record = (key: string, fairKey: string): OpenRecord => {
    const entry = openRecord(key, { seq: seq++ }, {});
    entry.fairKey = fairKey;
    records.push(entry);
    dispatcher.entered(entry);
    return entry;
  };
  return { dispatcher, breaker, mostRunning, record };
}

describe('Dispatcher with fairness keys', () => {
  it("runs a breaker probe only with its key's slot: a parked record waits while another of its key runs", () => {
    const { dispatcher, breaker, mostRunning, record } = harness();
    const first = record('a1', 'a');
    const second = record('a2', 'a');
    dispatcher.submit(first);
    dispatcher.submit(second);
    expect([first.phase, second.phase]).toEqual([Phase.running, Phase.queued]);
    // a1 fails while failures run in a row: held for the breaker's verdict, its slots given back; a2 takes them.
    dispatcher.move(first, Phase.held);
    dispatcher.pump();
    expect(second.phase).toBe(Phase.running);
    // The breaker opens: a1 is parked; a2, in flight, goes on.
    breaker.open = true;
    dispatcher.park(first);
    // The breaker's probe takes a1 while a2 still holds key a's one slot: it waits for it.
    const probe = dispatcher.takeProbe();
    expect(probe).toBe(first);
    breaker.probe = probe;
    dispatcher.startProbe(first);
    expect(first.phase).toBe(Phase.parked);
    expect(mostRunning.get('a')).toBe(1);
    // a2 ends: the probe runs.
    dispatcher.move(second, Phase.done);
    dispatcher.pump();
    expect(first.phase).toBe(Phase.running);
    expect(mostRunning.get('a')).toBe(1);
  });

  it('prefers a probe whose key has a free slot', () => {
    const { dispatcher, breaker, mostRunning, record } = harness();
    const a1 = record('a1', 'a');
    const a2 = record('a2', 'a');
    const b1 = record('b1', 'b');
    dispatcher.submit(a1);
    dispatcher.submit(a2);
    dispatcher.move(a1, Phase.held);
    dispatcher.pump();
    dispatcher.submit(b1);
    dispatcher.move(b1, Phase.held);
    breaker.open = true;
    dispatcher.park(a1);
    dispatcher.park(b1);
    // a1 was parked first, but key a is busy (a2 runs): b1 probes at once.
    const probe = dispatcher.takeProbe();
    expect(probe).toBe(b1);
    breaker.probe = probe;
    dispatcher.startProbe(b1);
    expect(b1.phase).toBe(Phase.running);
    expect(mostRunning.get('a')).toBe(1);
  });

  it("runs a record released by its dependencies through its key's queue", () => {
    const { dispatcher, mostRunning, record } = harness();
    const parent = record('p', 'a');
    const child = record('c', 'a');
    dispatcher.submit(parent);
    dispatcher.move(child, Phase.waitingDeps);
    // Its dependency is met (another record) while p, of the same key, runs: it waits for key a's slot.
    dispatcher.ready(child);
    expect(child.phase).toBe(Phase.queued);
    expect(mostRunning.get('a')).toBe(1);
    dispatcher.move(parent, Phase.done);
    dispatcher.pump();
    expect(child.phase).toBe(Phase.running);
    expect(mostRunning.get('a')).toBe(1);
  });

  it('while a crash group runs, starts only its members: a record that becomes ready waits for the group to end', () => {
    const { dispatcher, record } = harness();
    const member = record('m', 'a');
    const other = record('o', 'b');
    dispatcher.runOnly([member]);
    dispatcher.submit(member);
    expect(member.phase).toBe(Phase.running);
    // The member fails and waits to retry: it holds no slot, and the run is not idle.
    dispatcher.retryWait(member, 100);
    expect(dispatcher.busy(false)).toBe(true);
    // A record released by its dependency meanwhile waits, whatever slots are free.
    dispatcher.move(other, Phase.waitingDeps);
    dispatcher.ready(other);
    expect(other.phase).toBe(Phase.queued);
    expect(dispatcher.wantsFresh()).toBe(false);
    dispatcher.runAll();
    expect(other.phase).toBe(Phase.running);
  });
});
