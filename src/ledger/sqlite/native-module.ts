/**
 * better-sqlite3 is a native module: its install script builds (or fetches) `better_sqlite3.node`.
 * Installs that skip scripts (`npm install --ignore-scripts`, pnpm by default) leave it unbuilt,
 * and the first ledger open then fails with a dozen-line list of paths tried. This turns that,
 * and a module built for another Node.js, into one line that says what to type, before any ledger
 * file is created.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
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

/** The folders where a build of better-sqlite3 puts its module, in the order `bindings` tries them first. */
const BUILD_FOLDERS = ['build', join('build', 'Debug'), join('build', 'Release')];

/**
 * The module's path in the package at `root` when a build put it in one of BUILD_FOLDERS (the
 * first that has it, as `bindings` would pick), or undefined (then `bindings` searches as always).
 */
export function builtModulePath(root: string): string | undefined {
  for (const folder of BUILD_FOLDERS) {
    const path = join(root, folder, 'better_sqlite3.node');
    if (existsSync(path)) return path;
  }
  return undefined;
}

function packageRoot(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  } catch {
    return undefined;
  }
}

let loaded = false;
let modulePath: string | undefined;

/**
 * The `nativeBinding` option for every database this process opens: the module's path once
 * loadNativeModule found it where a build puts it. Without it, better-sqlite3 loads the `bindings`
 * package, which tries a dozen paths: two modules to compile and ~30 system calls, ~1.5 ms of
 * every run's start.
 */
export function nativeBinding(): string | undefined {
  return modulePath;
}

/**
 * Loads the native module (once per process) with an in-memory database, which touches no file.
 * Throws a LedgerError with the one-line explanation when it cannot be loaded.
 */
export function loadNativeModule(): void {
  if (loaded) return;
  try {
    const root = packageRoot();
    const path = root === undefined ? undefined : builtModulePath(root);
    new Database(':memory:', { nativeBinding: path }).close();
    modulePath = path;
    loaded = true;
  } catch (error) {
    const problem = nativeModuleProblem(error);
    if (problem !== undefined) throw new LedgerError('LEDGER_UNUSABLE', problem, { cause: error });
    throw error;
  }
}
