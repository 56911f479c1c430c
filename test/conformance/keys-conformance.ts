/**
 * Conformance: the record keys (duplicate detection across runs). Keys added to the set that
 * `keys()` returns are stored by the next commit of that handle, and only by a commit.
 */
import { expect, it } from 'vitest';
import { batch, type Harness, ledgerError, SHORT_LEASE, start } from './conformance-harness.js';

export function describeKeysConformance(harness: () => Harness): void {
  it('stores the keys added since the last commit with each commit, for the next run to find', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    const keys = await ledger.keys();
    expect(keys.size).toBe(0);
    for (let seq = 0; seq < 5; seq++) expect(keys.add(`key-${seq}`, seq, seq + 1)).toBeUndefined();
    await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 4 }], watermark: { seq: 5 }, seen: 5 }));
    for (let seq = 5; seq < 8; seq++) keys.add(`key-${seq}`, seq, seq + 1);
    await ledger.commit(batch('run-1', { succeeded: [{ first: 5, last: 7 }], watermark: { seq: 8 }, seen: 8 }));
    // Nothing added since: a commit without keys.
    await ledger.commit(batch('run-1', { watermark: { seq: 8 }, seen: 8, exhausted: true }));
    await ledger.finish('run-1', 'completed', {});

    const next = await harness().open();
    await next.begin(start('run-2'));
    const loaded = await next.keys();
    expect(loaded.size).toBe(8);
    expect(loaded.find('key-6')).toEqual({ seq: 6, line: 7 });
    expect(loaded.find('key-8')).toBeUndefined();
    // The same record read again is no duplicate; another record with a stored key is.
    expect(loaded.add('key-3', 3, 4)).toBeUndefined();
    expect(loaded.add('key-3', 9, 10)).toEqual({ seq: 3, line: 4 });
    const seqs: number[] = [];
    loaded.forEachSeq((seq) => seqs.push(seq));
    expect(seqs.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('keeps no key that no commit stored: added by a run that died, or by a holder that lost its lease', async () => {
    const dying = await harness().open(SHORT_LEASE);
    await dying.begin(start('dead-run'));
    const keys = await dying.keys();
    keys.add('committed', 0, 1);
    await dying.commit(batch('dead-run', { succeeded: [{ first: 0, last: 0 }], watermark: { seq: 1 }, seen: 1 }));
    keys.add('never-committed', 1, 2);
    await dying.close();

    const stale = await harness().open();
    await stale.begin(start('stale-run'));
    const staleKeys = await stale.keys();
    expect(staleKeys.find('committed')).toEqual({ seq: 0, line: 1 });
    expect(staleKeys.find('never-committed')).toBeUndefined();
    const taker = await harness().open();
    await taker.begin(start('taker-run', { takeOver: true }));
    staleKeys.add('fenced', 2, 3);
    expect((await ledgerError(stale.commit(batch('stale-run', { seen: 3 })))).code).toBe('LEDGER_LEASE_LOST');
    const takerKeys = await taker.keys();
    expect(takerKeys.size).toBe(1);
    expect(takerKeys.find('fenced')).toBeUndefined();
  });
}
