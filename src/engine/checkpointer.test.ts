import { describe, expect, it } from 'vitest';
import { flushMicrotasks, ManualClock } from '../clock.js';
import type { CommitBatch, Ledger } from '../ledger/ledger.js';
import { Checkpointer, toRanges } from './checkpointer.js';
import type { RowOutcome } from '../domain/outcome.js';
import { openRecord, retryState, type OpenRecord } from './open-record.js';
import { LazySerializedError, safeSerialize } from './stored-error.js';
import type { OutputRecord, OutputSink, SinkState } from '../sinks/output-sink.js';

/** A ledger whose commits wait until the test releases them, recording what it was given and when. */
class SlowLedger {
  readonly location = 'fake';
  readonly batches: CommitBatch[] = [];
  readonly log: string[] = [];
  private releases: (() => void)[] = [];
  private failNext: Error | undefined;

  commit(batch: CommitBatch): Promise<void> {
    const index = this.batches.length;
    this.batches.push(batch);
    this.log.push(`start ${index}`);
    const failure = this.failNext;
    this.failNext = undefined;
    return new Promise<void>((resolve, reject) => {
      this.releases.push(() => {
        this.log.push(`end ${index}`);
        if (failure) reject(failure);
        else resolve();
      });
    });
  }

  /** Lets the oldest waiting commit finish. */
  release(): void {
    const next = this.releases.shift();
    if (!next) throw new Error('no commit is waiting');
    next();
  }

  get waiting(): number {
    return this.releases.length;
  }

  failNextWith(error: Error): void {
    this.failNext = error;
  }

  /** The lease is lost from the next check on. */
  leaseLost: Error | undefined;

  assertHeld(): Promise<void> {
    this.log.push('lease checked');
    return this.leaseLost ? Promise.reject(this.leaseLost) : Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * A Checkpointer over the fake ledger. Built through a cast so that parameters added at the end of
 * the constructor (optional features such as the key index) do not break this test: they get undefined.
 */
function makeCheckpointer(
  ledger: SlowLedger,
  runId: string,
  everyRecords: number,
  extra: { output?: OutputSink; successesAsRows?: boolean; clock?: ManualClock } = {},
): Checkpointer {
  const clock = extra.clock ?? new ManualClock(Date.parse('2026-11-29T10:00:00.000Z'));
  const args = [ledger as unknown as Ledger, runId, everyRecords, extra.output, extra.successesAsRows ?? false, clock];
  return new Checkpointer(...(args as unknown as ConstructorParameters<typeof Checkpointer>));
}

/** A record that succeeded on its first attempt. */
function entry(seq: number): OpenRecord {
  const e = openRecord(`k${seq}`, { seq, line: seq + 1, offset: seq * 10 }, { id: seq });
  e.attempt = 1;
  return e;
}

function failed(seq: number, key = `k${seq}`): RowOutcome {
  return {
    status: 'failed',
    key,
    position: { seq, line: seq + 1, offset: seq * 10 },
    attempts: 2,
    kind: 'exhausted',
    error: { name: 'Error', message: `boom ${seq}` },
    fingerprint: 'fp',
    rule: 'default',
    history: [],
  };
}

/** Commits what `checkpointer` buffered through the slow `ledger`, released at once: the batch it wrote. */
async function firstBatch(checkpointer: Checkpointer, ledger: SlowLedger): Promise<CommitBatch> {
  const done = checkpointer.commit(undefined, 0, false);
  await flushMicrotasks();
  ledger.release();
  await done;
  return ledger.batches[0] as CommitBatch;
}

describe('toRanges', () => {
  it('returns no ranges for no sequence numbers', () => {
    expect(toRanges([])).toEqual([]);
  });

  it('merges contiguous numbers of unsorted input into sorted closed ranges', () => {
    expect(toRanges([7, 3, 1, 2, 9, 8, 5, 20])).toEqual([
      { first: 1, last: 3 },
      { first: 5, last: 5 },
      { first: 7, last: 9 },
      { first: 20, last: 20 },
    ]);
  });

  it('gives one range for a single number and for a fully contiguous reversed list', () => {
    expect(toRanges([42])).toEqual([{ first: 42, last: 42 }]);
    expect(toRanges([5, 4, 3, 2, 1, 0])).toEqual([{ first: 0, last: 5 }]);
  });

  it('sorts numerically, not as strings', () => {
    expect(toRanges([10, 9, 100, 11])).toEqual([
      { first: 9, last: 11 },
      { first: 100, last: 100 },
    ]);
  });
});

describe('Checkpointer', () => {
  it('signals a full batch at exactly everyRecords outcomes, successes and rows together', () => {
    const checkpointer = makeCheckpointer(new SlowLedger(), 'run-1', 3);
    expect(checkpointer.addSucceeded(entry(0), null)).toBe(false);
    expect(checkpointer.add(failed(1))).toBe(false);
    expect(checkpointer.buffered).toBe(2);
    expect(checkpointer.addSucceeded(entry(2), null)).toBe(true);
    expect(checkpointer.buffered).toBe(3);
    // Still full (the engine decides when to commit): a 4th outcome also says so.
    expect(checkpointer.addSucceeded(entry(3), null)).toBe(true);
    expect(checkpointer.add({ status: 'skipped', key: 'k4', position: { seq: 4 }, blockedBy: ['k1'] })).toBe(true);
    expect(checkpointer.buffered).toBe(5);
  });

  it('builds a batch of success ranges, failure rows, the watermark and the source counters', async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 100);
    for (const seq of [4, 0, 1, 5, 2]) checkpointer.addSucceeded(entry(seq), null);
    checkpointer.add(failed(3, 'three'));
    const retried = entry(7);
    retried.attempt = 3;
    checkpointer.addSucceeded(retried, 'x');
    const done = checkpointer.commit({ seq: 6, line: 7, offset: 60 }, 8, true);
    expect(checkpointer.buffered).toBe(0);
    await flushMicrotasks();
    expect(ledger.batches).toHaveLength(1);
    const batch = ledger.batches[0] as CommitBatch;
    expect(batch).toMatchObject({
      runId: 'run-1',
      succeeded: [
        { first: 0, last: 2 },
        { first: 4, last: 5 },
        { first: 7, last: 7 },
      ],
      watermark: { seq: 6, line: 7, offset: 60 },
      seen: 8,
      exhausted: true,
    });
    expect(batch.rows).toHaveLength(1);
    expect(batch.rows[0]).toMatchObject({
      seq: 3,
      key: 'three',
      status: 'failed',
      kind: 'exhausted',
      attempts: 2,
      error: { name: 'Error', message: 'boom 3' },
      fingerprint: 'fp',
      rule: 'default',
      runId: 'run-1',
      line: 4,
      offset: 30,
    });
    expect(batch.rows[0]?.updatedAt).toBe('2026-11-29T10:00:00.000Z');
    ledger.release();
    await done;
    expect(checkpointer.committed).toBe(7);
  });

  it('serialises commits on a slow ledger: the next starts only after the previous ended, in order', async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 100);
    checkpointer.addSucceeded(entry(0), null);
    checkpointer.addSucceeded(entry(1), null);
    const first = checkpointer.commit({ seq: 2 }, 2, false);
    checkpointer.add(failed(2));
    const second = checkpointer.commit({ seq: 3 }, 3, false);
    checkpointer.addSucceeded(entry(3), null);
    checkpointer.addSucceeded(entry(4), null);
    checkpointer.addSucceeded(entry(5), null);
    const third = checkpointer.commit({ seq: 6 }, 6, true);
    const settled: string[] = [];
    void first.then(() => settled.push('first'));
    void second.then(() => settled.push('second'));
    void third.then(() => settled.push('third'));

    await flushMicrotasks();
    expect(ledger.log).toEqual(['start 0']);
    expect(ledger.waiting).toBe(1);
    expect(checkpointer.committed).toBe(0);

    ledger.release();
    await flushMicrotasks();
    expect(ledger.log).toEqual(['start 0', 'end 0', 'start 1']);
    expect(checkpointer.committed).toBe(2);

    ledger.release();
    await flushMicrotasks();
    expect(ledger.log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2']);
    expect(checkpointer.committed).toBe(3);

    ledger.release();
    await Promise.all([first, second, third]);
    expect(checkpointer.committed).toBe(6);
    expect(settled).toEqual(['first', 'second', 'third']);
    expect(ledger.batches.map((b) => [b.watermark?.seq, b.seen, b.exhausted, b.succeeded, b.rows.map((r) => r.seq)])).toEqual([
      [2, 2, false, [{ first: 0, last: 1 }], []],
      [3, 3, false, [], [2]],
      [6, 6, true, [{ first: 3, last: 5 }], []],
    ]);
  });

  it('an empty commit still writes the watermark and counts nothing', async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 10);
    const done = checkpointer.commit({ seq: 9 }, 10, true);
    await flushMicrotasks();
    ledger.release();
    await done;
    expect(ledger.batches).toEqual([{ runId: 'run-1', succeeded: [], rows: [], watermark: { seq: 9 }, seen: 10, exhausted: true }]);
    expect(checkpointer.committed).toBe(0);
  });

  it('a failed commit rejects and does not count its outcomes', async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 10);
    checkpointer.addSucceeded(entry(0), null);
    ledger.failNextWith(new Error('disk full'));
    const done = checkpointer.commit({ seq: 1 }, 1, false);
    const outcome = done.then(
      () => 'resolved',
      (error: Error) => error.message,
    );
    await flushMicrotasks();
    ledger.release();
    expect(await outcome).toBe('disk full');
    expect(checkpointer.committed).toBe(0);
  });

  it('stores successes as rows instead of ranges on a re-run', async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'rerun-1', 10, { successesAsRows: true });
    const retried = entry(7);
    retried.attempt = 2;
    checkpointer.addSucceeded(retried, 'ok');
    const batch = await firstBatch(checkpointer, ledger);
    expect(batch.succeeded).toEqual([]);
    expect(batch.watermark).toBeUndefined();
    expect(batch.rows).toHaveLength(1);
    expect(batch.rows[0]).toMatchObject({ seq: 7, key: 'k7', status: 'succeeded', attempts: 2, runId: 'rerun-1', line: 8, offset: 70 });
    expect(checkpointer.committed).toBe(1);
  });

  it("stores a re-run success's failed attempts with their errors serialised", async () => {
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'rerun-1', 10, { successesAsRows: true });
    const retried = entry(7);
    retried.attempt = 2;
    const thrown = Object.assign(new Error('unavailable'), { status: 503 });
    retryState(retried).history.push({ attempt: 1, durationMs: 4, error: new LazySerializedError(thrown, undefined), delayMs: 10 });
    checkpointer.addSucceeded(retried, 'ok');
    const batch = await firstBatch(checkpointer, ledger);
    expect(batch.rows[0]?.history).toStrictEqual([{ attempt: 1, durationMs: 4, error: safeSerialize(thrown), delayMs: 10 }]);
  });

  it("stamps a commit's rows with one time, read from the run's clock when the commit is cut", async () => {
    const ledger = new SlowLedger();
    const clock = new ManualClock(Date.parse('2026-11-29T10:00:00.000Z'));
    const checkpointer = makeCheckpointer(ledger, 'rerun-1', 10, { successesAsRows: true, clock });
    checkpointer.addSucceeded(entry(0), 'ok');
    await clock.advance(250);
    checkpointer.add(failed(1));
    checkpointer.add({ status: 'skipped', key: 'k2', position: { seq: 2 }, blockedBy: ['k1'] });
    await clock.advance(500);
    const first = checkpointer.commit(undefined, 0, false);
    await clock.advance(1000);
    checkpointer.addSucceeded(entry(3), 'ok');
    const second = checkpointer.commit(undefined, 0, false);
    await flushMicrotasks();
    ledger.release();
    await flushMicrotasks();
    ledger.release();
    await Promise.all([first, second]);
    expect(ledger.batches.map((b) => b.rows.map((r) => [r.key, r.status, r.updatedAt]))).toEqual([
      [
        ['k0', 'succeeded', '2026-11-29T10:00:00.750Z'],
        ['k1', 'failed', '2026-11-29T10:00:00.750Z'],
        ['k2', 'skipped', '2026-11-29T10:00:00.750Z'],
      ],
      [['k3', 'succeeded', '2026-11-29T10:00:01.750Z']],
    ]);
  });

  it('cuts the output at commit time and commits the flushed sink state with the batch', async () => {
    const calls: string[] = [];
    let buffer: string[] = [];
    const flushed: string[] = [];
    const sink: OutputSink = {
      description: 'memory',
      open: () => Promise.resolve(),
      write(value: unknown, record: OutputRecord) {
        calls.push(`write ${record.key}`);
        buffer.push(String(value));
      },
      seal() {
        calls.push('seal');
        const part = buffer;
        buffer = [];
        return part;
      },
      flush(sealed: unknown): Promise<SinkState> {
        calls.push(`flush ${(sealed as string[]).join(',')}`);
        flushed.push(...(sealed as string[]));
        return Promise.resolve({ lines: flushed.length });
      },
      close: () => Promise.resolve(),
    };
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 10, { output: sink });
    checkpointer.addSucceeded(entry(0), 'a');
    checkpointer.addSucceeded(entry(1), 'b');
    const first = checkpointer.commit({ seq: 2 }, 2, false);
    // Written after the cut: belongs to the next batch, even though the first is not flushed yet.
    checkpointer.addSucceeded(entry(2), 'c');
    const second = checkpointer.commit({ seq: 3 }, 3, true);
    await flushMicrotasks();
    expect(calls).toEqual(['write k0', 'write k1', 'seal', 'write k2', 'seal', 'flush a,b']);
    expect(ledger.batches.map((b) => b.outputState)).toEqual([{ lines: 2 }]);
    ledger.release();
    await flushMicrotasks();
    expect(calls.at(-1)).toBe('flush c');
    ledger.release();
    await Promise.all([first, second]);
    expect(ledger.batches.map((b) => b.outputState)).toEqual([{ lines: 2 }, { lines: 3 }]);
  });
});

describe('Checkpointer and the lease', () => {
  it('asks the ledger whether the run still holds its lease before the sink writes, and writes nothing when it does not', async () => {
    const flushed: string[] = [];
    let buffer: string[] = [];
    const sink: OutputSink = {
      description: 'memory',
      open: () => Promise.resolve(),
      write: (value: unknown) => void buffer.push(String(value)),
      seal() {
        const part = buffer;
        buffer = [];
        return part;
      },
      flush(sealed: unknown): Promise<SinkState> {
        ledger.log.push('flush');
        flushed.push(...(sealed as string[]));
        return Promise.resolve({ lines: flushed.length });
      },
      close: () => Promise.resolve(),
    };
    const ledger = new SlowLedger();
    const checkpointer = makeCheckpointer(ledger, 'run-1', 10, { output: sink });
    checkpointer.addSucceeded(entry(0), 'a');
    const first = checkpointer.commit({ seq: 1 }, 1, false);
    await flushMicrotasks();
    ledger.release();
    await first;
    expect(ledger.log).toEqual(['lease checked', 'flush', 'start 0', 'end 0']);

    ledger.leaseLost = new Error('lease lost');
    checkpointer.addSucceeded(entry(1), 'b');
    await expect(checkpointer.commit({ seq: 2 }, 2, false)).rejects.toThrow('lease lost');
    expect(flushed).toEqual(['a']);
    expect(ledger.batches).toHaveLength(1);
  });
});
