/**
 * `batchguard rerun <job-file> --failed`: re-processes the failed records, narrowed by error
 * group, kind or a list of keys. The new outcomes replace the old ones in the same ledger.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseKeyLine } from '../report/key-lines.js';
import { checkKind } from './failures-command.js';
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
  const keys = flags.keys === undefined ? undefined : readKeys(flags.keys);
  return runCommand(jobFile, flags, { fingerprint: flags.error, kind, keys });
}

/**
 * One key per line, as `failures --format keys` writes them: blank lines are ignored, a trailing CR
 * is dropped, and a line starting with `"` is a JSON string (a key with a newline, say).
 */
function readKeys(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (error) {
    throw new ConfigError(`--keys: cannot read ${resolve(file)}: ${(error as Error).message}`, { field: '--keys' });
  }
  const keys: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let key: string | undefined;
    try {
      key = parseKeyLine(lines[i] as string, `--keys: ${resolve(file)}:${i + 1}`);
    } catch (error) {
      throw new ConfigError((error as Error).message, { field: '--keys' });
    }
    if (key !== undefined) keys.push(key);
  }
  if (keys.length === 0) throw new ConfigError(`--keys: ${resolve(file)} has no keys (one key per line expected)`, { field: '--keys' });
  return keys;
}
