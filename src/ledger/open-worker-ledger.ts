/**
 * Opens the ledger that the workers of a job's shared runs use (`run --worker`). Apart from
 * open-ledger.ts, which every run imports: only a worker loads the worker tables' code.
 */
import { ConfigError } from '../errors.js';
import { DEFAULT_LEASE } from './lease.js';
import type { LedgerContext } from './open-ledger.js';
import { checkPgSchema, isPostgresSpec } from './postgres/postgres-location.js';
import { openPostgresWorkerLedger } from './postgres/workers/postgres-worker-ledger.js';
import type { WorkerLedger } from './worker-ledger.js';

/**
 * Opens the ledger that the workers of `job`'s shared runs use (`run --worker`): only the
 * PostgreSQL ledger is one. No connection is made until its first call.
 *
 * @throws {ConfigError} when `location` is not a PostgreSQL URL, or `pgSchema` is not a plain name.
 */
export function openWorkerLedger(location: string, context: LedgerContext & { readonly job: string }): WorkerLedger {
  if (!isPostgresSpec(location)) {
    throw new ConfigError('--worker needs the PostgreSQL ledger (--ledger postgres://…): workers share a run through it', {
      field: 'ledger',
    });
  }
  return openPostgresWorkerLedger(location, {
    job: context.job,
    schema: checkPgSchema(context.pgSchema, 'pgSchema'),
    lease: context.lease ?? DEFAULT_LEASE,
  });
}
