/**
 * Conformance: one run at a time. The lease (refused while its holder renews it, taken after it
 * expires or on request), the fencing that stops a holder whose lease was taken, and the crash
 * notes that tell the next run which records were in flight when a run died.
 */
import { hostname } from 'node:os';
import { expect, it } from 'vitest';
import type { CrashSuspect, Ledger } from '../../src/ledger/ledger.js';
import { batch, collect, failedRow, type Harness, ledgerError, SHORT_LEASE, start } from './conformance-harness.js';

function suspects(map: ReadonlyMap<number, CrashSuspect>): [number, CrashSuspect][] {
  return [...map.entries()].sort((a, b) => a[0] - b[0]);
}

/** A run that dies with `note` as its last crash note, after committing records 0–9. */
async function dieWithNote(harness: Harness, runId: string, note: Parameters<Ledger['noteInFlight']>[0], first = true): Promise<void> {
  const dying = await harness.open(SHORT_LEASE);
  await dying.begin(start(runId));
  if (first) await dying.commit(batch(runId, { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10 }, seen: 10 }));
  await dying.noteInFlight(note);
  await dying.close();
}

export function describeLeaseConformance(harness: () => Harness): void {
  it('refuses a second run while the holder renews its lease, naming the holder; takes the ledger once it is released', async () => {
    const holder = await harness().open();
    const second = await harness().open();
    await holder.begin(start('holder-run'));
    const refused = await ledgerError(second.begin(start('intruder-run')));
    expect(refused.code).toBe('LEDGER_LOCKED');
    expect(refused.message).toContain('holder-run');
    expect(refused.message).toContain('--take-over');
    expect(await second.holder()).toMatchObject({ runId: 'holder-run', pid: process.pid, host: hostname() });
    // The refused run left no trace.
    expect((await second.runs(10)).map((r) => r.runId)).toEqual(['holder-run']);
    await holder.finish('holder-run', 'completed', {});
    expect(await second.holder()).toBeUndefined();
    const resume = await second.begin(start('next-run'));
    expect(resume.crashedRunId).toBeUndefined();
    expect(await holder.holder()).toMatchObject({ runId: 'next-run' });
  });

  it('takes the lease of a run that died once it has expired, and the holder says when it expires', async () => {
    const dying = await harness().open(SHORT_LEASE);
    await dying.begin(start('dead-run'));
    const held = await dying.holder();
    expect(held).toMatchObject({ runId: 'dead-run' });
    const acquiredAt = Date.parse(held?.acquiredAt ?? '');
    expect(Date.parse(held?.expiresAt ?? '') - acquiredAt).toBeGreaterThanOrEqual(SHORT_LEASE.expireMs);
    await dying.close();
    const next = await harness().open();
    const resume = await next.begin(start('next-run'));
    expect(resume.crashedRunId).toBe('dead-run');
    expect(await next.holder()).toMatchObject({ runId: 'next-run' });
  });

  it('fences: every acquisition gets a larger token, and a holder whose lease was taken over writes nothing more', async () => {
    const stale = await harness().open();
    const taker = await harness().open();
    await stale.begin(start('stale-run'));
    const staleToken = (await stale.holder())?.token ?? Number.NaN;
    await stale.commit(batch('stale-run', { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10 }, seen: 10 }));
    const resume = await taker.begin(start('taker-run', { takeOver: true }));
    expect(resume.crashedRunId).toBe('stale-run');
    const takerToken = (await taker.holder())?.token ?? Number.NaN;
    expect(takerToken).toBeGreaterThan(staleToken);

    const lost = await ledgerError(
      stale.commit(
        batch('stale-run', { succeeded: [{ first: 10, last: 19 }], rows: [failedRow(20, 'stale-run')], watermark: { seq: 21 }, seen: 21 }),
      ),
    );
    expect(lost.code).toBe('LEDGER_LEASE_LOST');
    expect(lost.message).toContain('stale-run');
    expect(lost.message).toContain('taker-run');
    expect((await ledgerError(stale.assertHeld())).code).toBe('LEDGER_LEASE_LOST');
    expect((await ledgerError((async () => stale.noteInFlight({ started: [500], ahead: [], group: false }))())).code).toBe(
      'LEDGER_LEASE_LOST',
    );
    expect((await ledgerError(stale.finish('stale-run', 'completed', {}))).code).toBe('LEDGER_LEASE_LOST');

    // Nothing of the stale run's refused writes is there; the taker's lease and writes are intact.
    expect(await taker.counts()).toMatchObject({ total: 10, succeeded: 10, failed: 0 });
    expect((await taker.inspect()).watermark).toEqual({ seq: 10 });
    expect(await collect(taker.rows({ statuses: ['failed'] }))).toEqual([]);
    expect((await taker.runs(10)).map((r) => [r.runId, r.status])).toEqual([
      ['taker-run', 'running'],
      ['stale-run', 'crashed'],
    ]);
    expect(await taker.holder()).toMatchObject({ runId: 'taker-run', token: takerToken });
    await taker.assertHeld();
    await taker.commit(batch('taker-run', { succeeded: [{ first: 10, last: 14 }], watermark: { seq: 15 }, seen: 15 }));
    await taker.finish('taker-run', 'completed', {});
    // A later acquisition's token is larger still, even after a release.
    await taker.begin(start('later-run'));
    expect((await taker.holder())?.token).toBeGreaterThan(takerToken);
  });

  it('turns the crash note of a run that died into suspects for the next run, minus what it committed', async () => {
    await dieWithNote(harness(), 'dead-run', { started: [8, 10, 11], ahead: [{ first: 12, last: 14 }], group: false });
    const next = await harness().open();
    const resume = await next.begin(start('next-run'));
    expect(resume.crashedRunId).toBe('dead-run');
    // Record 8 had its outcome committed: it was not in flight when the run died.
    expect(suspects(resume.crashes.suspects)).toEqual(
      [10, 11, 12, 13, 14].map((seq) => [seq, { groupSize: undefined, aloneCrashes: 0, runIds: [] }]),
    );
    // A commit that gives a suspect an outcome clears it.
    await next.commit(batch('next-run', { succeeded: [{ first: 10, last: 11 }], rows: [failedRow(12, 'next-run')], seen: 15 }));
    await next.close();
    const third = await harness().open();
    const later = await third.begin(start('third-run', { takeOver: true }));
    expect([...later.crashes.suspects.keys()].sort((a, b) => a - b)).toEqual([13, 14]);
  });

  it('halves the group of suspects that were running together when the run died, and counts crashes of a record alone', async () => {
    await dieWithNote(harness(), 'run-1', { started: [20, 21, 22, 23], ahead: [], group: true });
    await dieWithNote(harness(), 'run-2', { started: [21], ahead: [], group: true }, false);
    await dieWithNote(harness(), 'run-3', { started: [21], ahead: [], group: true }, false);
    const next = await harness().open();
    const resume = await next.begin(start('run-4'));
    expect(suspects(resume.crashes.suspects)).toEqual([
      [20, { groupSize: 2, aloneCrashes: 0, runIds: [] }],
      [21, { groupSize: 1, aloneCrashes: 2, runIds: ['run-2', 'run-3'] }],
      [22, { groupSize: 2, aloneCrashes: 0, runIds: [] }],
      [23, { groupSize: 2, aloneCrashes: 0, runIds: [] }],
    ]);
    // A record quarantined as crashed keeps its evidence; others are cleared by their outcome.
    await next.commit(
      batch('run-4', {
        rows: [failedRow(21, 'run-4', { kind: 'crashed' })],
        succeeded: [{ first: 20, last: 20 }],
        seen: 24,
      }),
    );
    await next.finish('run-4', 'completed', {});
    const clean = await next.begin(start('run-5'));
    expect([...clean.crashes.suspects.keys()].sort((a, b) => a - b)).toEqual([21, 22, 23]);
  });

  it('forgets the crash note of a run that finished', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    await ledger.noteInFlight({ started: [1, 2], ahead: [{ first: 3, last: 5 }], group: false });
    await ledger.finish('run-1', 'interrupted', {});
    const resume = await ledger.begin(start('run-2'));
    expect(resume.crashedRunId).toBeUndefined();
    expect(resume.crashes.suspects.size).toBe(0);
  });
}
