/**
 * The filters of `failures` and `rerun` checked against the failed records there are.
 *
 * `--error`, the error group: a fingerprint as `failures` prints it, or the start of one (at least
 * 4 characters, as git takes a commit's) that no other group of failed records shares. A group that
 * no failed record is in is refused (exit 2), naming the groups there are: a mistyped, shortened or
 * already fixed group would otherwise select nothing, and a re-run of nothing ends by the earlier
 * figures (exit 1 when they were over the threshold) as if it had run.
 *
 * `--kind` of a re-run, for the same reason: a re-run of a kind (with its group, if one is given)
 * that no failed record has is refused, naming the kinds there are. `failures --kind` answers "none"
 * instead: a question about a kind has that answer.
 */
import { counted } from '../domain/counted.js';
import { ConfigError } from '../errors.js';
import type { RerunOptions } from '../engine/run-options.js';
import type { ErrorGroup, Ledger } from '../ledger/ledger.js';
import { cliCommand } from './cli-command.js';
import { ledgerSuffix, type LedgerFlags } from './ledger-path.js';

/** The shortest start of a fingerprint taken for the whole. */
const MIN_PREFIX = 4;
/**
 * Groups read to match against, the largest first, as `failures` and the summary list them. A
 * ledger with more groups than that is not refused a group or a kind it may have further down: a
 * start of a fingerprint is then matched among these only.
 */
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
  return matchGroup(await ledger.topErrors(MAX_GROUPS, 0), given, ledger.location, jobFile, flags);
}

/** A re-run's filter with its `--error` resolved (resolveErrorGroup); a `ConfigError` when it selects no failed record by its group and kind. */
export async function checkRerunFilter(
  ledger: Pick<Ledger, 'topErrors' | 'location'>,
  rerun: RerunOptions,
  jobFile: string,
  flags: LedgerFlags,
): Promise<RerunOptions> {
  if (rerun.fingerprint === undefined && rerun.kind === undefined) return rerun;
  const groups = await ledger.topErrors(MAX_GROUPS, 0);
  const fingerprint = rerun.fingerprint === undefined ? undefined : matchGroup(groups, rerun.fingerprint, ledger.location, jobFile, flags);
  const { kind } = rerun;
  if (
    kind !== undefined &&
    groups.length < MAX_GROUPS &&
    !groups.some((group) => group.kind === kind && (fingerprint === undefined || group.fingerprint === fingerprint))
  ) {
    const kinds = new Map<string, number>();
    for (const group of groups)
      if (fingerprint === undefined || group.fingerprint === fingerprint)
        kinds.set(String(group.kind), (kinds.get(String(group.kind)) ?? 0) + group.count);
    const theirs = [...kinds].map(([other, count]) => `${count} ${other}`).join(', ');
    throw new ConfigError(
      `--kind ${kind}: no failed record ${fingerprint === undefined ? '' : `of error group ${fingerprint} `}is of kind ${kind}` +
        (theirs === ''
          ? ` in the ledger ${ledger.location}`
          : `; ${fingerprint === undefined ? 'the failed records' : 'that group'}: ${theirs}`),
      { field: '--kind' },
    );
  }
  return fingerprint === undefined ? rerun : { ...rerun, fingerprint };
}

function matchGroup(groups: readonly ErrorGroup[], given: string, location: string, jobFile: string, flags: LedgerFlags): string {
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
  // More groups than were read: one further down may be it, so it is not refused (nor named).
  if (groups.length >= MAX_GROUPS) return given;
  if (groups.length === 0) {
    throw new ConfigError(`--error ${JSON.stringify(given)}: no record of this job has failed in the ledger ${location}`, {
      field: '--error',
    });
  }
  throw new ConfigError(
    `--error ${JSON.stringify(given)} is not the error group of any failed record in the ledger ${location}; ` +
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
