/**
 * The error of a `--run` the ledger does not know: `report` and `failures` refuse it (exit 2)
 * rather than report nothing, which would read as "that run had no failures".
 */
import { ConfigError } from '../errors.js';
import type { Ledger } from '../ledger/ledger.js';
import { cliCommand } from './cli-command.js';
import { ledgerSuffix, type LedgerFlags } from './ledger-path.js';

/** Throws a `ConfigError` naming `--run` unless the ledger has a run with this id. */
export async function checkRunKnown(ledger: Ledger, runId: string, jobFile: string, flags: LedgerFlags): Promise<void> {
  const runs = await ledger.runs(Number.MAX_SAFE_INTEGER);
  if (!runs.some((run) => run.runId === runId)) throw unknownRun(runId, ledger.location, jobFile, flags);
}

export function unknownRun(runId: string, location: string, jobFile: string, flags: LedgerFlags): ConfigError {
  return new ConfigError(
    `--run ${runId}: no such run in the ledger ${location} (\`${cliCommand()} status ${jobFile}${ledgerSuffix(flags)}\` lists the recent runs)`,
    { field: '--run' },
  );
}
