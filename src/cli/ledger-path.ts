/**
 * Where a command finds the job's ledger: `--ledger`, or `.batchguard/<job name>.sqlite`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { openSqliteLedger, type SqliteLedger } from '../ledger/sqlite/sqlite-ledger.js';

export function ledgerPath(job: Job<any, any>, flag: string | undefined): string {
  return resolve(flag ?? join('.batchguard', `${job.name}.sqlite`));
}

/** Opens an existing ledger for reading; a missing one is an error that says how to create it. */
export function openExistingLedger(job: Job<any, any>, flag: string | undefined, jobFile: string): SqliteLedger {
  const path = ledgerPath(job, flag);
  if (!existsSync(path)) {
    throw new LedgerError('LEDGER_UNUSABLE', `no ledger at ${path}: the job has not run yet from here (run \`batchguard run ${jobFile}\` first, or pass --ledger)`);
  }
  return openSqliteLedger(path);
}
