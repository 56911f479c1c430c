/**
 * better-sqlite3 is a native module: its install script builds (or fetches) `better_sqlite3.node`.
 * Installs that skip scripts (`npm install --ignore-scripts`, pnpm by default) leave it unbuilt,
 * and the first ledger open then fails with a dozen-line list of paths tried. This turns that,
 * and a module built for another Node.js, into one line that says what to type, before any ledger
 * file is created.
 */
import Database from 'better-sqlite3';
import { LedgerError } from '../../errors.js';

const REBUILD = '`npm rebuild better-sqlite3` (pnpm: `pnpm approve-builds`, then `pnpm rebuild better-sqlite3`)';

/** One line explaining a failure to load better-sqlite3's native module, or undefined for any other error. */
export function nativeModuleProblem(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const { message } = error;
  if (!message.includes('better_sqlite3.node')) return undefined;
  if (message.startsWith('Could not locate the bindings file')) {
    return `better-sqlite3's native module is not built (it was installed with install scripts disabled, as \`--ignore-scripts\` and pnpm do); build it with ${REBUILD}`;
  }
  if ((error as NodeJS.ErrnoException).code === 'ERR_DLOPEN_FAILED') {
    const versions = /NODE_MODULE_VERSION (\d+)[\s\S]*NODE_MODULE_VERSION (\d+)/.exec(message);
    const why = versions
      ? `was built for another Node.js (module version ${versions[1]}; this Node.js ${process.version} needs ${versions[2]})`
      : `cannot be loaded (${message.split('\n')[0]?.trim()})`;
    return `better-sqlite3's native module ${why}; rebuild it with ${REBUILD}`;
  }
  return undefined;
}

let loaded = false;

/**
 * Loads the native module (once per process) with an in-memory database, which touches no file.
 * Throws a LedgerError with the one-line explanation when it cannot be loaded.
 */
export function loadNativeModule(): void {
  if (loaded) return;
  try {
    new Database(':memory:').close();
    loaded = true;
  } catch (error) {
    const problem = nativeModuleProblem(error);
    if (problem !== undefined) throw new LedgerError('LEDGER_UNUSABLE', problem, { cause: error });
    throw error;
  }
}
