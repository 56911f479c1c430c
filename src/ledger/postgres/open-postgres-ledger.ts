/**
 * Opens a PostgreSQL ledger: loads `pg` (an optional peer dependency), resolves the connection
 * (postgres-location.ts) and returns the `Ledger` interface, never the class, so that the published
 * declarations do not mention pg's types. No connection is made until the first call.
 */
import type { ResolvedLeaseOptions } from '../lease.js';
import type { Ledger } from '../ledger.js';
import { loadPg, type PgModule } from './load-pg.js';
import { PgDb } from './pg-db.js';
import { openPgPool } from './pg-pool.js';
import { PostgresLedger } from './postgres-ledger.js';
import { resolvePostgresTarget, type PostgresTarget } from './postgres-location.js';

export interface PostgresLedgerOptions {
  /** The job whose ledger this is (one schema holds the ledgers of many jobs). */
  readonly job: string | undefined;
  /** The schema of the ledger's tables, already checked (checkPgSchema). */
  readonly schema: string;
  readonly lease: ResolvedLeaseOptions;
  /** Where the URL came from, for the message when pg is missing. @default 'ledger' */
  readonly field?: string;
}

export function openPostgresLedger(spec: string, options: PostgresLedgerOptions): Ledger {
  const { pg, path } = loadPg(options.field ?? 'ledger');
  return postgresLedgerOn(pg, resolvePostgresTarget(spec, path), options);
}

/** Connections at most per ledger handle: commits, the heartbeat, a reader, and the lease's lock session (holder-session.ts). */
const LEDGER_POOL_SIZE = 5;

/** The ledger at an already resolved `target`, with `pg` already loaded. */
export function postgresLedgerOn(pg: PgModule, target: PostgresTarget, options: PostgresLedgerOptions): Ledger {
  // A run stopped inside a write holds the share lock on its lease row, which a taker's update
  // waits for: its session ends after a lease time idle in the transaction (pg-pool.ts).
  const pool = openPgPool(pg, target.config, {
    applicationName: 'batchguard',
    idleInTransactionMs: options.lease.expireMs,
    max: LEDGER_POOL_SIZE,
    connectTimeoutMs: target.connectTimeoutMs,
  });
  return new PostgresLedger(new PgDb(pool, target.location), options.schema, options.job, options.lease);
}
