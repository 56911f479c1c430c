import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/temp.js';
import { builtModulePath, loadNativeModule, nativeBinding, nativeModuleProblem } from './native-module.js';

const require = createRequire(import.meta.url);

/** The error better-sqlite3 really throws when its native module was never built: `bindings` finding no file. */
function unbuiltError(): unknown {
  const root = tempDir();
  writeFileSync(join(root, 'package.json'), '{"name":"better-sqlite3"}');
  try {
    (require('bindings') as (options: object) => unknown)({ bindings: 'better_sqlite3.node', module_root: root });
  } catch (error) {
    return error;
  }
  throw new Error('bindings found a module in an empty folder');
}

/** The error loading a file that is not a native module for this Node.js gives (ERR_DLOPEN_FAILED). */
function unloadableError(): unknown {
  const dir = join(tempDir(), 'build', 'Release');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'better_sqlite3.node');
  writeFileSync(file, 'not a shared object');
  try {
    process.dlopen({ exports: {} } as NodeJS.Module, file);
  } catch (error) {
    return error;
  }
  throw new Error('a text file loaded as a native module');
}

describe("better-sqlite3's native module", () => {
  it('not built (install scripts disabled): one line that says how to build it', () => {
    const error = unbuiltError();
    expect((error as Error).message).toMatch(/^Could not locate the bindings file\. Tried:\n/);
    expect(nativeModuleProblem(error)).toBe(
      "better-sqlite3's native module is not built (it was installed with install scripts disabled, as `--ignore-scripts` and pnpm do); " +
        'build it with `npm rebuild better-sqlite3` (pnpm: `pnpm approve-builds`, then `pnpm rebuild better-sqlite3`)',
    );
  });

  it('unloadable (a broken or foreign build): one line with the loader’s reason and the rebuild command', () => {
    const error = unloadableError();
    expect((error as NodeJS.ErrnoException).code).toBe('ERR_DLOPEN_FAILED');
    const line = nativeModuleProblem(error) as string;
    expect(line).toMatch(
      /^better-sqlite3's native module cannot be loaded \(.*better_sqlite3\.node.*\); rebuild it with `npm rebuild better-sqlite3`/,
    );
    expect(line).not.toContain('\n');
  });

  it('built for another Node.js: names both module versions', () => {
    const error = Object.assign(
      new Error(`The module '/p/node_modules/better-sqlite3/build/Release/better_sqlite3.node'
was compiled against a different Node.js version using
NODE_MODULE_VERSION 127. This version of Node.js requires
NODE_MODULE_VERSION 115. Please try re-compiling or re-installing
the module (for instance, using \`npm rebuild\` or \`npm install\`).`),
      { code: 'ERR_DLOPEN_FAILED' },
    );
    expect(nativeModuleProblem(error)).toBe(
      `better-sqlite3's native module was built for another Node.js (module version 127; this Node.js ${process.version} needs 115); ` +
        'rebuild it with `npm rebuild better-sqlite3` (pnpm: `pnpm approve-builds`, then `pnpm rebuild better-sqlite3`)',
    );
  });

  it('is loaded from where a build puts it, in the order `bindings` tries, without the `bindings` search', () => {
    const root = tempDir();
    expect(builtModulePath(root)).toBeUndefined();
    for (const folder of ['build/Release', 'build/Debug', 'build']) {
      mkdirSync(join(root, folder), { recursive: true });
      writeFileSync(join(root, folder, 'better_sqlite3.node'), '');
      expect(builtModulePath(root)).toBe(join(root, folder, 'better_sqlite3.node'));
    }
    loadNativeModule();
    const installed = join(require.resolve('better-sqlite3/package.json'), '..', 'build', 'Release', 'better_sqlite3.node');
    expect(nativeBinding()).toBe(installed);
  });

  it('leaves every other error alone', () => {
    expect(nativeModuleProblem(new Error('SQLITE_CANTOPEN: unable to open database file'))).toBeUndefined();
    expect(nativeModuleProblem(Object.assign(new Error('cannot open other.node'), { code: 'ERR_DLOPEN_FAILED' }))).toBeUndefined();
    expect(nativeModuleProblem('better_sqlite3.node')).toBeUndefined();
  });
});
