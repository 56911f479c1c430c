/**
 * Worker ledgers for PostgreSQL tests, as each worker process opens its own: closed after the test
 * that opened them (before pgPool drops the file's schemas).
 */
import { afterEach } from 'vitest';
import { resolveLeaseOptions, type LeaseOptions } from '../../src/ledger/lease.js';
import { openWorkerLedger } from '../../src/ledger/open-worker-ledger.js';
import type { WorkerLedger } from '../../src/ledger/worker-ledger.js';
import { PG_URL } from './pg-schema.js';

/** Call in a describe block: returns the opener of worker ledgers of `job` in a schema, with an optional lease. */
export function workerLedgers(job = 'j'): (schema: string, lease?: LeaseOptions) => WorkerLedger {
  const opened: WorkerLedger[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((ledger) => ledger.close()));
  });
  return (schema, lease) => {
    const ledger = openWorkerLedger(PG_URL, { job, pgSchema: schema, ...(lease ? { lease: resolveLeaseOptions(lease) } : {}) });
    opened.push(ledger);
    return ledger;
  };
}
