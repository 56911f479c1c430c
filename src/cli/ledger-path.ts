/**
 * Where a command finds the job's ledger: `--ledger`, the job's `ledger`, or
 * `.batchguard/<job name>.sqlite` beside the job file (src/ledger/ledger-location.ts); for a
 * PostgreSQL ledger, `--pg-schema` names the schema.
 */
import { existsSync } from 'node:fs';
import { LedgerError } from '../errors.js';
import type { Job } from '../job.js';
import { isPostgresSpec, ledgerFlagOf, resolveLedgerLocation } from '../ledger/ledger-location.js';
import type { Ledger } from '../ledger/ledger.js';
import { isMemoryLedger, openLedger, openLedgerToRead } from '../ledger/open-ledger.js';
import { cliCommand } from './cli-command.js';

export function ledgerPath(job: Job<any, any>, flag: string | undefined, jobFile: string): string {
  return resolveLedgerLocation({ jobName: job.name, flag, jobLedger: job.ledger, jobFile, cwd: process.cwd() });
}

/** The flags that say where a command's ledger is. */
export interface LedgerFlags {
  ledger?: string;
  pgSchema?: string;
}

/**
 * What a printed command must add to reach the same ledger (` --ledger X`, without a password), or
 * nothing for the default one: a hint copied without it would read or re-run another ledger.
 */
export function ledgerSuffix(flags: LedgerFlags): string {
  return flags.ledger === undefined ? '' : ` --ledger ${ledgerFlagOf(flags.ledger, flags.pgSchema)}`;
}

/** Whether a ledger location is one that exists before any run (a database, not a file). */
export function isDatabaseLedger(path: string): boolean {
  return isPostgresSpec(path);
}

/** Opens an existing ledger for reading; a missing one (or one without runs of the job) is an error that says how to create it. */
export async function openExistingLedger(job: Job<any, any>, flags: LedgerFlags, jobFile: string): Promise<Ledger> {
  const path = ledgerPath(job, flags.ledger, jobFile);
  if (isDatabaseLedger(path)) {
    const { ledger } = openLedger(path, { job: job.name, pgSchema: flags.pgSchema });
    try {
      // Asked without creating anything: a mistyped --pg-schema must not become an empty ledger.
      if (!(await (ledger.hasRuns?.() ?? ledger.runs(1).then((runs) => runs.length > 0))))
        throw noLedger(ledger.location, jobFile, flags.ledger, job.name);
      return ledger;
    } catch (error) {
      await ledger.close();
      throw error;
    }
  }
  if (isMemoryLedger(path) || !existsSync(path)) throw noLedger(path, jobFile, flags.ledger);
  return openLedgerToRead(path, job.name);
}

/** The error of a command that needs a ledger where none exists yet. */
export function noLedger(path: string, jobFile: string, flag: string | undefined, jobName?: string): LedgerError {
  if (isMemoryLedger(path)) {
    return new LedgerError(
      'LEDGER_UNUSABLE',
      `the memory ledger keeps nothing after its run: job ${jobFile} has no recorded runs to read or re-run; give the ledger file of an earlier run with --ledger`,
    );
  }
  const where = flag === undefined ? '' : ` --ledger ${isPostgresSpec(flag) ? '<the same URL>' : flag}`;
  if (isPostgresSpec(path) || path.startsWith('postgres://')) {
    return new LedgerError(
      'LEDGER_UNUSABLE',
      `the ledger ${path} has no runs of job ${jobName === undefined ? jobFile : `${jobName} (${jobFile})`} (check the URL and --pg-schema; start it with \`${cliCommand()} run ${jobFile}${where}\`)`,
    );
  }
  return new LedgerError(
    'LEDGER_UNUSABLE',
    `no ledger at ${path}: job ${jobFile} has not run yet with this ledger (start it with \`${cliCommand()} run ${jobFile}${where}\`)`,
  );
}
