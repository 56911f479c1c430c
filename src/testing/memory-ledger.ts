/**
 * A memory ledger a test holds on to: pass it to `runJob(job, { ledger })`, then ask it what the
 * run recorded (`counts()`, `failures()`), run again on it to see a resume, and close it at the end.
 * `ledger: 'memory'` gives a run its own memory ledger, which is gone with the run.
 */
import { resolveLeaseOptions, type LeaseOptions } from '../ledger/lease.js';
import type { Ledger } from '../ledger/ledger.js';
import { openLedger } from '../ledger/open-ledger.js';

/**
 * A new, empty memory ledger (nothing is written to disk). The caller closes it; a run leaves a
 * ledger it was given open.
 * @param lease the run lease's timing, for tests of take-overs. @default { expireMs: 15000, renewEveryMs: 5000 }
 */
export function memoryLedger(lease?: LeaseOptions): Ledger {
  return openLedger('memory', { lease: resolveLeaseOptions(lease, 'memoryLedger(lease)') }).ledger;
}
