/**
 * A fresh project that installs batchguard the way a user does: from the packed tarball, with
 * npm, in a folder of its own. Offline where possible: the lock file is cut out of the repository's
 * own package-lock.json (same versions, same integrity hashes), so npm takes every package from the
 * cache that `npm ci` filled and asks the registry only for what is missing there.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * The environment for a nested npm: without the `npm_*` variables of the `npm test` that runs
 * the tests (npm reads them as its own settings, e.g. the project folder), but with the cache and
 * registry settings.
 */
export function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_') || keep.has(name.toLowerCase())),
  );
}

interface LockEntry {
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [field: string]: unknown;
}

/** Packs the repository (dist/ as built by `npm run build`) into `dir`; returns the tarball's file name. */
export function packInto(dir: string): { file: string; integrity: string; files: string[] } {
  // --ignore-scripts: prepack would clean and rebuild dist/ under the feet of the tests running beside this one.
  const output = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    encoding: 'utf8',
    env: npmEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [packed] = JSON.parse(output) as { filename: string; integrity: string; files: { path: string }[] }[];
  if (!packed) throw new Error(`npm pack printed no package: ${output}`);
  return { file: packed.filename, integrity: packed.integrity, files: packed.files.map((f) => f.path) };
}

/**
 * Writes package.json and package-lock.json for a project that depends on the tarball `file` (in
 * `dir`) and on `extra` packages (names from the repository's own dependencies), then `npm ci`.
 * Install scripts are off, as with pnpm or `--ignore-scripts`: better-sqlite3's native module is
 * not built.
 */
export function installConsumer(dir: string, tarball: { file: string; integrity: string }, extra: readonly string[]): void {
  const rootLock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const own = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: unknown;
  };
  const ranges = { ...own.dependencies, ...own.devDependencies };
  const packages: Record<string, LockEntry> = {};
  const visit = (from: string, name: string, optional: boolean): void => {
    const path = locate(rootLock.packages, from, name);
    if (path === undefined) {
      if (optional) return;
      throw new Error(`package-lock.json has no ${name} for ${from || 'the root'}`);
    }
    if (packages[path]) return;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = rootLock.packages[path] as LockEntry;
    packages[path] = entry;
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(path, dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {})) visit(path, dep, true);
    for (const dep of Object.keys(entry.peerDependencies ?? {})) visit(path, dep, true);
  };
  for (const name of Object.keys(own.dependencies)) visit('node_modules/batchguard', name, false);
  for (const name of extra) visit('', name, false);
  const spec = `file:${tarball.file}`;
  const dependencies = { batchguard: spec, ...Object.fromEntries(extra.map((name) => [name, ranges[name] ?? '*'])) };
  const manifest = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const lock = {
    name: 'consumer',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'consumer', version: '1.0.0', dependencies },
      'node_modules/batchguard': {
        version: own.version,
        resolved: spec,
        integrity: tarball.integrity,
        license: 'MIT',
        dependencies: own.dependencies,
        bin: own.bin,
        engines: own.engines,
      },
      ...packages,
    },
  };
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  execFileSync('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    encoding: 'utf8',
    env: npmEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Node's lookup: `<from>/node_modules/<name>`, then each enclosing node_modules, then the top level. */
function locate(packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}
