/**
 * Where a command finds the job's ledger: `--ledger`, the job's `ledger`, or
 * `.batchguard/<job name>.sqlite` beside the job file (src/ledger/ledger-location.ts).
 */
import { existsSync } from 'node:fs';
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { resolveLedgerLocation } from '../ledger/ledger-location.js';
import type { Ledger } from '../ledger/ledger.js';
import { isMemoryLedger, openLedger } from '../ledger/open-ledger.js';
import { cliCommand } from './cli-command.js';

export function ledgerPath(job: Job<any, any>, flag: string | undefined, jobFile: string): string {
  return resolveLedgerLocation({ jobName: job.name, flag, jobLedger: job.ledger, jobFile, cwd: process.cwd() });
}

/** Opens an existing ledger for reading; a missing one is an error that says how to create it. */
export function openExistingLedger(job: Job<any, any>, flag: string | undefined, jobFile: string): Ledger {
  const path = ledgerPath(job, flag, jobFile);
  if (isMemoryLedger(path) || !existsSync(path)) throw noLedger(path, jobFile, flag);
  return openLedger(path).ledger;
}

/** The error of a command that needs a ledger where none exists yet. */
export function noLedger(path: string, jobFile: string, flag: string | undefined): LedgerError {
  if (isMemoryLedger(path)) {
    return new LedgerError(
      'LEDGER_UNUSABLE',
      `the memory ledger keeps nothing after its run: job ${jobFile} has no recorded runs to read or re-run; give the ledger file of an earlier run with --ledger`,
    );
  }
  const where = flag === undefined ? '' : ` --ledger ${flag}`;
  return new LedgerError(
    'LEDGER_UNUSABLE',
    `no ledger at ${path}: job ${jobFile} has not run yet with this ledger (start it with \`${cliCommand()} run ${jobFile}${where}\`)`,
  );
}
