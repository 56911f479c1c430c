/**
 * Leases through the real CLI: a SIGSTOPped holder is taken over with `--take-over` and, woken,
 * exits 4 writing nothing; the books balance. The long suite (`npm run torture`) adds a SIGKILLed
 * PID 1 of a PID namespace taken over by the next PID 1 (also under another host name) and a
 * stopped holder left to expire, with the default lease; test/e2e/lease-takeover.test.ts runs short
 * versions of those in CI.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { LEASE, stoppedHolderScenario } from './leases.js';

describe('torture: leases', () => {
  it('a SIGSTOPped holder is taken over; woken, it exits 4 and writes nothing', async () => {
    const result = await stoppedHolderScenario(tempDir(), { ...LEASE.takeOver, records: 1000 });
    expect(result.problems).toEqual([]);
  }, 90_000);
});
