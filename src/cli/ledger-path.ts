/**
 * Where a command finds the job's ledger: `--ledger`, the job's `ledger`, or
 * `.batchguard/<job name>.sqlite` beside the job file (src/ledger/ledger-location.ts).
 */
import { existsSync } from 'node:fs';
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { resolveLedgerLocation } from '../ledger/ledger-location.js';
import { openSqliteLedger, type SqliteLedger } from '../ledger/sqlite/sqlite-ledger.js';
import { cliCommand } from './cli-command.js';

export function ledgerPath(job: Job<any, any>, flag: string | undefined, jobFile: string): string {
  return resolveLedgerLocation({ jobName: job.name, flag, jobLedger: job.ledger, jobFile, cwd: process.cwd() });
}

/** Opens an existing ledger for reading; a missing one is an error that says how to create it. */
export function openExistingLedger(job: Job<any, any>, flag: string | undefined, jobFile: string): SqliteLedger {
  const path = ledgerPath(job, flag, jobFile);
  if (!existsSync(path)) throw noLedger(path, jobFile, flag);
  return openSqliteLedger(path);
}

/** The error of a command that needs a ledger where none exists yet. */
export function noLedger(path: string, jobFile: string, flag: string | undefined): LedgerError {
  const where = flag === undefined ? '' : ` --ledger ${flag}`;
  return new LedgerError('LEDGER_UNUSABLE', `no ledger at ${path}: job ${jobFile} has not run yet with this ledger (start it with \`${cliCommand()} run ${jobFile}${where}\`)`);
}
