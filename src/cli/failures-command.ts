/**
 * `batchguard failures <job-file>`: the failure report, from the ledger.
 */
import { ConfigError } from '../errors.js';
import { FailureKind, type RowFilter } from '../ledger/ledger.js';
import { FailureFormat, writeFailureLines, writeFailureTable } from '../report/failure-formats.js';
import { cliCommand } from './cli-command.js';
import { resolveErrorGroup } from './failure-filter-flags.js';
import { ledgerSuffix, openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';
import { checkRunKnown } from './unknown-run.js';

export interface FailuresFlags {
  ledger?: string;
  pgSchema?: string;
  format?: string;
  error?: string;
  kind?: string;
  run?: string;
}

export function checkKind(kind: string | undefined): FailureKind | undefined {
  if (kind === undefined) return undefined;
  const kinds = Object.values(FailureKind) as string[];
  if (!kinds.includes(kind)) throw new ConfigError(`--kind must be one of ${kinds.join(', ')}; got "${kind}"`, { field: '--kind' });
  return kind as FailureKind;
}

export async function failuresCommand(jobFile: string, flags: FailuresFlags): Promise<number> {
  const format = flags.format ?? 'table';
  const formats = Object.values(FailureFormat) as string[];
  if (!formats.includes(format))
    throw new ConfigError(`--format must be one of ${formats.join(', ')}; got "${format}"`, { field: '--format' });
  const kind = checkKind(flags.kind);
  const job = await loadJob(jobFile);
  const ledger = await openExistingLedger(job, flags, jobFile);
  try {
    if (flags.run !== undefined) await checkRunKnown(ledger, flags.run, jobFile, flags);
    const fingerprint = flags.error === undefined ? undefined : await resolveErrorGroup(ledger, flags.error, jobFile, flags);
    // A kind or an error group only exists on failures; without either, blocked records are listed too.
    const statuses: RowFilter['statuses'] = kind || fingerprint ? ['failed'] : ['failed', 'skipped'];
    const rows = ledger.rows({ statuses, fingerprint, kind, runId: flags.run });
    const write = (text: string): void => void process.stdout.write(text);
    const count =
      format === 'table'
        ? await writeFailureTable(rows, write)
        : await writeFailureLines(rows, format as Exclude<FailureFormat, 'table'>, write);
    if (format === 'table') {
      if (count === 0) process.stdout.write('no failed or skipped records match\n');
      else
        process.stdout.write(
          `re-run them: ${cliCommand()} rerun ${jobFile} --failed${fingerprint ? ` --error ${fingerprint}` : ''}${kind ? ` --kind ${kind}` : ''}${ledgerSuffix(flags)}\n`,
        );
    }
    return 0;
  } finally {
    await ledger.close();
  }
}
