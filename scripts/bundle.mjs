#!/usr/bin/env node
/**
 * The second step of `npm run build`: bundles what tsc wrote to dist/ into a few files in
 * dist/bundle/, which the package's `exports` and the CLI load. Node 20 loads ES modules one file
 * at a time (resolve, read, compile, link), ~0.7 ms of CPU each on a 2-CPU machine and a wait for
 * the disk thread each; a run loaded some 130 of them, which was most of a short job's start-up
 * (docs/benchmarks.md). tsc's per-module files stay in dist/: the declarations sit beside them, and
 * the resolve hook (dist/cli/resolve-hook.js) and the key spiller's worker run from there.
 *
 * One chunk, `core`, holds every module that a plain `batchguard run` of a job importing
 * `batchguard` loads: the static imports of the CLI, of the run command and of the package's
 * `batchguard` and `batchguard/sqlite` entries. A bundler's default splitting cuts that code into
 * a chunk per set of entries and on-demand imports that share it (32 files for a run, built with
 * esbuild); in one chunk a run loads 3 (cli.js, the job's index.js, core): ~30 ms less CPU at every start.
 * What is imported on demand (the other commands, the PostgreSQL ledger, metrics, alerting) stays
 * in chunks of its own, and the entries share `core`, so `batchguard`, `batchguard/sqlite`,
 * `batchguard/testing` and the CLI have one copy of each class.
 *
 * Every output is in one folder, so each module's `import.meta.url` can be made the URL its file
 * has in dist/ (`new URL('../engine/stored-error.js', import.meta.url)` seen from dist/bundle/):
 * paths computed from it (the package root, the package.json, the engine's folder) stay what they
 * were.
 *
 * Usage: node scripts/bundle.mjs   (after tsc; `npm run build` runs both)
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outdir = join(dist, 'bundle');

/** The entries, named as their files in dist/bundle/ (package.json's `exports` and bin/ point at them). */
const ENTRIES = {
  index: join(dist, 'index.js'),
  sqlite: join(dist, 'sqlite.js'),
  testing: join(dist, 'testing/index.js'),
  cli: join(dist, 'cli/main.js'),
};

/** What a plain run loads: these modules and everything they import statically go into `core`. */
const CORE_ROOTS = [ENTRIES.index, ENTRIES.sqlite, ENTRIES.cli, join(dist, 'cli/run-command.js')];

/**
 * Each module sees `import.meta.url` as its own file in dist/, as it did unbundled: a module that
 * reads it gets a `const` of that URL (renamed apart from the others' by the bundler), and `define`
 * makes every `import.meta.url` expression (not strings or comments) that name.
 */
const MODULE_URL = '__batchguardModuleUrl';
const ownUrl = {
  name: 'own-import-meta-url',
  async load(id) {
    if (!id.startsWith(`${dist}/`) || !id.endsWith('.js')) return null;
    const text = await readFile(id, 'utf8');
    if (!text.includes('import.meta.url')) return null;
    const fromBundle = JSON.stringify(relative(outdir, id));
    // `import.meta` through a name of its own: `define` would rewrite this `import.meta.url` too.
    return `const ${MODULE_URL} = ((meta) => new URL(${fromBundle}, meta.url).href)(import.meta);\n${text}`;
  },
};

/** The chunk of a module: `core` for the static closure of CORE_ROOTS, the bundler's choice otherwise. */
function chunkGroups() {
  let core;
  const closure = (ctx) => {
    const seen = new Set();
    const pending = [...CORE_ROOTS];
    while (pending.length > 0) {
      const id = pending.pop();
      if (seen.has(id)) continue;
      seen.add(id);
      for (const imported of ctx.getModuleInfo(id)?.importedIds ?? []) if (isAbsolute(imported)) pending.push(imported);
    }
    return seen;
  };
  return [{ debugName: 'core', name: (id, ctx) => ((core ??= closure(ctx)).has(id) ? 'core' : null) }];
}

await rm(outdir, { recursive: true, force: true });
await build({
  input: ENTRIES,
  platform: 'node',
  // Dependencies (better-sqlite3, commander, tsx, pg, the optional peers) stay packages of their own.
  external: (id) => !id.startsWith('.') && !isAbsolute(id) && !id.startsWith('\0'),
  transform: { define: { 'import.meta.url': MODULE_URL } },
  plugins: [ownUrl],
  // A dynamic import of a module that `core` has anyway (the log, the run command) is kept: it
  // costs nothing and says what the code needs.
  onLog(level, log, handler) {
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
  output: {
    dir: outdir,
    format: 'esm',
    entryFileNames: '[name].js',
    chunkFileNames: 'chunk-[hash].js',
    codeSplitting: { groups: chunkGroups() },
    // No `keepNames` (rolldown's default): it adds a naming call per function and class, run at
    // every start (~10 ms with esbuild's); checkNoRenamedDeclarations keeps the names as written.
    // Not minified: each module's code starts with a `// dist/<path>` line, which
    // test/e2e/startup-cost.test.ts reads to tell which modules a run loaded, and by which a line
    // of a stack trace is traced to its module.
  },
  logLevel: 'warn',
});

await checkNoRenamedDeclarations();

/**
 * Fails the build when a function or class of the bundle is not named as in dist/: the bundler
 * gave it a suffix (`describe$1`) because another module declares the same top-level name, and
 * stack traces would show that name. Rename one of them in src/.
 */
async function checkNoRenamedDeclarations() {
  const DECLARED = /^(?:export )?(?:async )?(?:function\*? |class )([\w$]+)/gm;
  const namesIn = async (folder, files) =>
    new Set(
      (await Promise.all(files.map((file) => readFile(join(folder, file), 'utf8')))).flatMap((text) =>
        [...text.matchAll(DECLARED)].map((m) => m[1]),
      ),
    );
  const sourceFiles = (await readdir(dist, { recursive: true })).filter((file) => file.endsWith('.js') && !file.startsWith('bundle/'));
  const written = await namesIn(dist, sourceFiles);
  const bundled = await namesIn(
    outdir,
    (await readdir(outdir)).filter((file) => file.endsWith('.js')),
  );
  const renamed = [...bundled].filter((name) => !written.has(name));
  if (renamed.length > 0) {
    console.error(`bundle: renamed ${renamed.join(', ')}: a top-level name declared in two modules of src/; rename one of them`);
    process.exit(1);
  }
}
