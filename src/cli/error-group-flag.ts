/**
 * `--error`, the error group that `failures` and `rerun` narrow to: a fingerprint as `failures`
 * prints it, or the start of one (at least 4 characters, as git takes a commit's) that no other
 * group of failed records shares. A group that no failed record is in is refused (exit 2), naming
 * the groups there are: a mistyped, shortened or already fixed group would otherwise select
 * nothing, and a re-run of nothing ends by the earlier figures (exit 1 when they were over the
 * threshold) as if it had run.
 */
import { counted } from '../domain/counted.js';
import { ConfigError } from '../errors.js';
import type { ErrorGroup, Ledger } from '../ledger/ledger.js';
import { cliCommand } from './cli-command.js';
import { ledgerSuffix, type LedgerFlags } from './ledger-path.js';

/** The shortest start of a fingerprint taken for the whole. */
const MIN_PREFIX = 4;
/** Groups read to match against: the largest first, as `failures` and the summary list them. */
const MAX_GROUPS = 1000;
/** Groups named in the error. */
const GROUPS_NAMED = 5;

/** The fingerprint `given` stands for among the job's failed records; a `ConfigError` naming `--error` when none or several. */
export async function resolveErrorGroup(
  ledger: Pick<Ledger, 'topErrors' | 'location'>,
  given: string,
  jobFile: string,
  flags: LedgerFlags,
): Promise<string> {
  const groups = await ledger.topErrors(MAX_GROUPS, 0);
  if (groups.some((group) => group.fingerprint === given)) return given;
  const start = given.toLowerCase();
  const matching = start.length < MIN_PREFIX ? [] : groups.filter((group) => group.fingerprint.startsWith(start));
  if (matching.length === 1) return (matching[0] as ErrorGroup).fingerprint;
  if (matching.length > 1) {
    throw new ConfigError(
      `--error ${JSON.stringify(given)} is the start of ${matching.length} error groups (${named(matching)}); give more of it`,
      {
        field: '--error',
      },
    );
  }
  if (groups.length === 0) {
    throw new ConfigError(`--error ${JSON.stringify(given)}: no record of this job has failed in the ledger ${ledger.location}`, {
      field: '--error',
    });
  }
  throw new ConfigError(
    `--error ${JSON.stringify(given)} is not the error group of any failed record in the ledger ${ledger.location}; ` +
      `theirs: ${named(groups)} (\`${cliCommand()} failures ${jobFile}${ledgerSuffix(flags)}\` lists them)`,
    { field: '--error' },
  );
}

/** The first groups with their sizes: "1dcd422a297b (7 records), …, and 3 more". */
function named(groups: readonly ErrorGroup[]): string {
  const shown = groups
    .slice(0, GROUPS_NAMED)
    .map((group) => `${group.fingerprint} (${counted(group.count, 'record')})`)
    .join(', ');
  return groups.length > GROUPS_NAMED ? `${shown} and ${groups.length - GROUPS_NAMED} more` : shown;
}
