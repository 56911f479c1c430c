#!/usr/bin/env node
/**
 * The second step of `npm run build`: bundles what tsc wrote to dist/ into a few files in
 * dist/bundle/, which the package's `exports` and the CLI load. Node 20 loads ES modules one file
 * at a time (resolve, read, compile, link), about 0.3 ms of CPU each and more wall time on a busy
 * machine; a run loaded some 130 of them, which was most of a short job's start-up
 * (docs/benchmarks.md). tsc's per-module files stay in dist/: the declarations sit beside them, and
 * the resolve hook (dist/cli/resolve-hook.js) runs on its own in the loader thread.
 *
 * Every output is in one folder, so each module's `import.meta.url` can be made the URL its file
 * has in dist/ (`new URL('../engine/stored-error.js', import.meta.url)` seen from dist/bundle/):
 * paths computed from it (the package root, the package.json, the engine's folder) stay what they
 * were. Code splitting keeps what the entries share in shared chunks, so `batchguard`,
 * `batchguard/sqlite`, `batchguard/testing` and the CLI have one copy of each class, and what is
 * imported on demand (commands, the PostgreSQL ledger, metrics) stays in chunks of its own.
 *
 * Usage: node scripts/bundle.mjs   (after tsc; `npm run build` runs both)
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

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

/**
 * Each module sees `import.meta.url` as its own file in dist/, as it did unbundled: a module that
 * reads it gets a `const` of that URL (renamed apart from the others' by esbuild), and `define`
 * makes every `import.meta.url` expression (not strings or comments) that name.
 */
const MODULE_URL = '__batchguardModuleUrl';
const ownUrl = {
  name: 'own-import-meta-url',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!args.path.startsWith(`${dist}/`) || !text.includes('import.meta.url')) return { contents: text, loader: 'js' };
      const fromBundle = JSON.stringify(relative(outdir, args.path));
      // `import.meta` through a name of its own: `define` would rewrite this `import.meta.url` too.
      const contents = `const ${MODULE_URL} = ((meta) => new URL(${fromBundle}, meta.url).href)(import.meta);\n${text}`;
      return { contents, loader: 'js' };
    });
  },
};

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: ENTRIES,
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Dependencies (better-sqlite3, commander, tsx, pg, the optional peers) stay packages of their own.
  packages: 'external',
  chunkNames: 'chunk-[hash]',
  // No `keepNames`: it wrapped each of ~900 functions and classes in a `__name()` call that ran at
  // every start (~10 ms of a short job's start-up on a 2-CPU machine). Names stay as written because
  // none clashes: esbuild renames a top-level name declared in two modules, which
  // `checkNoRenamedDeclarations` below refuses (errors set their `name` themselves; only stack
  // traces would show a renamed function).
  keepNames: false,
  define: { 'import.meta.url': MODULE_URL },
  // Not minified: esbuild marks each module's code with a `// dist/<path>` line, which
  // test/e2e/startup-cost.test.ts reads to tell which modules a run loaded, and by which a line
  // of a stack trace is traced to its module.
  logLevel: 'warning',
  plugins: [ownUrl],
});

await checkNoRenamedDeclarations();

/**
 * Fails the build when a function or class of the bundle is not named as in dist/: esbuild gave it
 * a suffix (`describe2`) because another module declares the same top-level name. Rename one of
 * them in src/.
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
    console.error(`bundle: esbuild renamed ${renamed.join(', ')}: a top-level name declared in two modules of src/; rename one of them`);
    process.exit(1);
  }
}
