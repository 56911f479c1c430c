/**
 * `batchguard rerun <job-file> --failed`: re-processes the failed records, narrowed by error
 * group, kind or a list of keys. The new outcomes replace the old ones in the same ledger.
 */
import { ConfigError } from '../errors.js';
import { checkKind } from './failures-command.js';
import { readKeysFile } from './keys-file.js';
import { runCommand, type RunFlags } from './run-command.js';

export interface RerunFlags extends RunFlags {
  failed?: boolean;
  error?: string;
  kind?: string;
  keys?: string;
}

export async function rerunCommand(jobFile: string, flags: RerunFlags): Promise<number> {
  if (!flags.failed) {
    throw new ConfigError(
      'rerun needs --failed: it re-processes the records whose latest outcome is failed (narrow them with --error, --kind or --keys)',
      { field: '--failed' },
    );
  }
  const kind = checkKind(flags.kind);
  const keys = flags.keys === undefined ? undefined : readKeysFile(flags.keys);
  return runCommand(jobFile, flags, { fingerprint: flags.error, kind, keys });
}
