/**
 * Conformance: durable steps (`ctx.step`). A completed step is stored at once, per record key and
 * step name, across runs and handles, and only by the run that holds the lease.
 */
import { expect, it } from 'vitest';
import { type Harness, ledgerError, start } from './conformance-harness.js';

export function describeStepsConformance(harness: () => Harness): void {
  it('stores completed steps per key and name, readable at once by another handle and in a later run', async () => {
    const ledger = await harness().open();
    await ledger.begin(start('run-1'));
    expect(await ledger.completedSteps('order-1')).toEqual(new Map());
    await ledger.saveStep('run-1', 'order-1', 'charge', JSON.stringify({ chargeId: 'ch_1' }));
    await ledger.saveStep('run-1', 'order-1', 'notify', undefined);
    await ledger.saveStep('run-1', 'order-2', 'charge', '"ch_2"');
    // Durable before any commit: another handle (another process) sees it.
    const other = await harness().open();
    expect(await other.completedSteps('order-1')).toEqual(
      new Map([
        ['charge', { result: '{"chargeId":"ch_1"}' }],
        ['notify', {}],
      ]),
    );
    await ledger.finish('run-1', 'interrupted', {});
    await other.begin(start('run-2'));
    expect(await other.completedSteps('order-2')).toEqual(new Map([['charge', { result: '"ch_2"' }]]));
    // Saving a step again replaces it.
    await other.saveStep('run-2', 'order-2', 'charge', '"ch_2b"');
    expect((await other.completedSteps('order-2')).get('charge')).toEqual({ result: '"ch_2b"' });
    expect(await other.completedSteps('order-3')).toEqual(new Map());
  });

  it('refuses a step from a run that lost its lease, writing nothing', async () => {
    const stale = await harness().open();
    const taker = await harness().open();
    await stale.begin(start('stale-run'));
    await taker.begin(start('taker-run', { takeOver: true }));
    const lost = await ledgerError(stale.saveStep('stale-run', 'order-1', 'charge', '"ch_1"'));
    expect(lost.code).toBe('LEDGER_LEASE_LOST');
    expect(await taker.completedSteps('order-1')).toEqual(new Map());
  });
}
