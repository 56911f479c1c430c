/**
 * The ledger conformance suite: what every `Ledger` backend must do, asserted through the interface
 * only. A backend's test file calls `describeLedgerConformance` once; the memory and SQLite ledgers
 * run it in `npm test` (memory-ledger.test.ts, sqlite-ledger.test.ts beside this file).
 *
 * ```ts
 * describeLedgerConformance('PostgreSQL ledger', (options) => openPostgresLedger(url, schema, options), dropSchema, {
 *   writeFutureSchema: () => setSchemaVersion(schema, 999),
 * });
 * ```
 */
import { describeStepsConformance } from './steps-conformance.js';
import { afterEach, describe } from 'vitest';
import { type ConformanceHooks, Harness, type OpenLedger } from './conformance-harness.js';
import { describeFailuresConformance } from './failures-conformance.js';
import { describeHistoryConformance } from './history-conformance.js';
import { describeKeysConformance } from './keys-conformance.js';
import { describeLeaseConformance } from './lease-conformance.js';
import { describeResumeConformance } from './resume-conformance.js';

export type { ConformanceHooks, ConformanceOpenOptions, OpenLedger } from './conformance-harness.js';

/**
 * Registers the conformance tests of one backend. `open` opens another handle on the ledger under
 * test (every call until `cleanup` reaches the same stored ledger, as separate processes would);
 * after each test the suite closes every handle it opened, then calls `cleanup`, which must drop
 * the ledger so that the next test starts from an empty one.
 */
export function describeLedgerConformance(name: string, open: OpenLedger, cleanup: () => Promise<void>, hooks: ConformanceHooks): void {
  describe(`${name} conformance`, () => {
    let current: Harness | undefined;
    const harness = (): Harness => (current ??= new Harness(open));
    afterEach(async () => {
      try {
        await current?.closeAll();
      } finally {
        current = undefined;
        await cleanup();
      }
    });
    describe('resume, watermark and outcome writes', () => describeResumeConformance(harness));
    describe('failures, re-run selection and dependencies', () => describeFailuresConformance(harness));
    describe('leases, fencing and crash notes', () => describeLeaseConformance(harness));
    describe('record keys', () => describeKeysConformance(harness));
    describe('run history and schema versions', () => describeHistoryConformance(harness, hooks));
    describe('durable steps', () => describeStepsConformance(harness));
  });
}
