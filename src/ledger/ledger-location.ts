/**
 * Where a job's ledger is. The `--ledger` flag wins, then the job's own `ledger` option, then the
 * default `.batchguard/<job name>.sqlite` beside the job file. The default follows the job file,
 * not the working directory: a scheduler that starts the job from another folder, or a `status`
 * typed from elsewhere, must find the same ledger, never silently start a new one.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { formatValue } from '../validation/check.js';
import { isPostgresSpec, withoutPassword } from './postgres/postgres-location.js';

// How a PostgreSQL location is read, for the callers outside src/ledger/ (which import no backend module).
export { checkPgSchema, isPgSchemaName, isPostgresSpec, PG_SCHEMA_RULE, withoutPassword } from './postgres/postgres-location.js';

/** The folder of the default ledger, beside the job file. */
export const LEDGER_FOLDER = '.batchguard';

export interface LedgerLocationInput {
  /** The job's name (it names the default ledger file). */
  readonly jobName: string;
  /** The `--ledger` flag or the run option, relative to `cwd`. */
  readonly flag?: string | undefined;
  /** The job's `ledger` option (already checked by `checkLedgerOption`), relative to the job file's folder. */
  readonly jobLedger?: string | undefined;
  /** The job file, when known; without it the job's folder is `cwd`. */
  readonly jobFile?: string | undefined;
  readonly cwd: string;
}

/** The memory ledger's name (a file named so is `./memory`). */
const MEMORY = 'memory';

/**
 * The absolute path of the ledger file, `memory`, or a PostgreSQL URL as given. Refuses values
 * that name no ledger batchguard can open.
 */
export function resolveLedgerLocation(input: LedgerLocationInput): string {
  const jobFolder = input.jobFile === undefined ? input.cwd : dirname(resolve(input.cwd, input.jobFile));
  if (input.flag !== undefined) {
    checkLedgerSpec(input.flag, '--ledger');
    return input.flag === MEMORY || isPostgresSpec(input.flag) ? input.flag : resolve(input.cwd, input.flag);
  }
  if (input.jobLedger !== undefined) {
    return input.jobLedger === MEMORY || isPostgresSpec(input.jobLedger) ? input.jobLedger : resolve(jobFolder, input.jobLedger);
  }
  return join(jobFolder, LEDGER_FOLDER, `${input.jobName}.sqlite`);
}

/**
 * Validates the job's `ledger` option: a file path (relative to the job file's folder), `'memory'`
 * (nothing kept after the run: ledger/memory/memory-ledger.ts), a `file:` URL such as
 * `new URL('./state/job.sqlite', import.meta.url)`, or a `postgres://` URL (a string, or a URL
 * object). Returns the path or the URL.
 */
export function checkLedgerOption(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value instanceof URL) {
    if (isPostgresSpec(value.protocol)) return value.href;
    if (value.protocol !== 'file:')
      throw new ConfigError(`job.ledger must be a file path, a file: URL or a postgres: URL; got ${value.protocol} URL`, {
        field: 'ledger',
      });
    return fileURLToPath(value);
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ConfigError(
      `job.ledger must be the ledger's file path (relative to the job file), e.g. ledger: 'state/orders.sqlite'; got ${formatValue(value)}`,
      { field: 'ledger' },
    );
  }
  checkLedgerSpec(value, 'job.ledger');
  return value;
}

/**
 * Refuses ledger values that would not give a durable ledger: SQLite's `:memory:` (the ledger
 * used to create a file of that name), and URLs of databases other than PostgreSQL. A URL's
 * credentials are never repeated in the message.
 */
export function checkLedgerSpec(value: string, field: string): void {
  if (value === ':memory:' || value.startsWith('file::memory:')) {
    throw new ConfigError(
      `${field} ${JSON.stringify(value)}: batchguard has no in-memory ledger (a ledger that disappears with the process cannot resume a run); give a file path, e.g. ${field === '--ledger' ? '--ledger /tmp/job.sqlite' : "ledger: 'state/job.sqlite'"}, or ${field === '--ledger' ? '--ledger memory' : "ledger: 'memory'"} for a run that needs no resume`,
      { field },
    );
  }
  if (isPostgresSpec(value)) return;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    throw new ConfigError(
      `${field} ${scheme}://…: a ledger is the path of a SQLite file or a postgres:// URL; there is no ${scheme}:// ledger`,
      { field },
    );
  }
}

/** The `--ledger` value as hints repeat it (`--ledger X` follows): never a password. */
export function ledgerFlagOf(ledger: string, pgSchema: string | undefined): string {
  if (!isPostgresSpec(ledger)) return ledger;
  return pgSchema === undefined ? withoutPassword(ledger) : `${withoutPassword(ledger)} --pg-schema ${pgSchema}`;
}
