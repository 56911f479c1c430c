/**
 * The package as a user gets it: `npm pack`, installed with npm into a fresh project with install
 * scripts disabled (as pnpm and `--ignore-scripts` do), type-checked under `strict` with
 * `skipLibCheck: false` and no `@types/better-sqlite3`, loaded with `require()`, and run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { installConsumer, packInto } from '../helpers/consumer-project.js';
import { tempDir } from '../helpers/temp.js';

const JOB_TS = `import { defineJob, FatalError, jsonl, jsonlOutput, runJob, type Summary } from 'batchguard';
import { openSqliteLedger } from 'batchguard/sqlite';
import { ManualClock, memoryLedger } from 'batchguard/testing';

interface City { id: number; name: string }

const job = defineJob({
  name: 'cities',
  source: jsonl<City>('cities.jsonl'),
  key: (city) => String(city.id),
  handler: async (city, ctx) => {
    if (city.name === '') throw new FatalError(\`no name for \${ctx.key}\`);
    return { id: city.id, upper: city.name.toUpperCase() };
  },
  output: jsonlOutput('out/cities.jsonl'),
  ledger: 'state/cities.sqlite',
  keepRuns: 5,
});
export default job;

export async function runAndCount(): Promise<number> {
  const summary: Summary = await runJob(job, { concurrency: 2 });
  const ledger = openSqliteLedger('state/cities.sqlite');
  const counts = await ledger.counts();
  await ledger.close();
  return summary.succeeded + counts.total;
}

export async function runInTest(): Promise<number> {
  const clock = new ManualClock(0);
  const ledger = memoryLedger({ expireMs: 3_000 });
  const running = runJob(job, { ledger, clock });
  await clock.advance(1_000);
  const summary = await running;
  await ledger.close();
  return summary.retries + clock.now();
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
  },
  include: ['src'],
};

const JOB_MJS = `import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'cities', source: jsonl('cities.jsonl'), key: (r) => String(r.id), maxFailureRate: 1,
  handler: async (r) => { if (!r.name) throw new FatalError('no name'); return r.name; },
});
`;

const TRACED_JOB_MJS = `import { defineJob } from 'batchguard';
export default defineJob({
  name: 'traced', source: [{ id: 1 }, { id: 2 }], key: (r) => String(r.id), tracing: true,
  handler: async (r) => r.id,
});
`;

describe('the published package', () => {
  it('installs into a fresh project, type-checks strictly, loads with require(), and runs', () => {
    const dir = tempDir();
    const tarball = packInto(dir);

    // What is shipped: the licence, no tests, no source map pointing at a file that is not shipped.
    expect(tarball.files).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'package.json',
        'bin/batchguard.js',
        'dist/bundle/index.js',
        'dist/bundle/sqlite.js',
        'dist/bundle/testing.js',
        'dist/bundle/cli.js',
        'dist/cli/resolve-hook.js',
        'dist/index.d.ts',
        'dist/testing/index.d.ts',
        'docs/cli.md',
      ]),
    );
    expect(tarball.files.filter((file) => /\.test\.|^test\/|^src\//.test(file))).toEqual([]);
    const root = join(dir, 'unpacked');
    mkdirSync(root);
    execFileSync('tar', ['-xzf', join(dir, tarball.file), '-C', root]);
    for (const map of tarball.files.filter((file) => file.endsWith('.map'))) {
      const { sources } = JSON.parse(readFileSync(join(root, 'package', map), 'utf8')) as { sources: string[] };
      for (const source of sources) expect(tarball.files).toContain(join(dirname(map), source));
    }
    // Every relative link of the README names a file in the package.
    const readme = readFileSync(join(root, 'package', 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1] as string).filter((link) => !/^[a-z]+:/.test(link));
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(tarball.files).toContain(link);

    installConsumer(dir, tarball, ['typescript', '@types/node']);
    expect(() => createRequire(join(dir, 'package.json')).resolve('@types/better-sqlite3/package.json')).toThrow();

    mkdirSync(join(dir, 'src'));
    writeFileSync(join(dir, 'src', 'cities.job.ts'), JOB_TS);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    const tsc = spawnSync(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);

    const required = spawnSync(
      process.execPath,
      [
        '-e',
        "const b = require('batchguard'); const t = require('batchguard/testing'); " +
          'console.log(typeof b.defineJob, typeof b.runJob, typeof t.ManualClock, typeof t.memoryLedger, typeof b.ManualClock)',
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    // The manual clock is for tests: it is in `batchguard/testing`, not in the main entry.
    expect(required.stdout).toBe('function function function function undefined\n');
    expect(required.status).toBe(0);

    // The human log (stderr is a pipe here, where the default is JSON): these lines are what a person reads.
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(dir, 'node_modules/.bin/batchguard'), ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, BATCHGUARD_LOG_FORMAT: 'pretty' },
      });
    expect(cli('--version').stdout).toBe(
      `${(JSON.parse(readFileSync(join(root, 'package', 'package.json'), 'utf8')) as { version: string }).version}\n`,
    );

    writeFileSync(join(dir, 'cities.jsonl'), '{"id":1,"name":"Oslo"}\n{"id":2,"name":""}\n');
    writeFileSync(join(dir, 'job.mjs'), JOB_MJS);
    // Install scripts were off: better-sqlite3's native module was never built.
    const unbuilt = cli('run', 'job.mjs', '--no-progress');
    expect(unbuilt.status).toBe(4);
    expect(unbuilt.stderr).toBe(
      "batchguard: error: better-sqlite3's native module is not built (it was installed with install scripts disabled, as `--ignore-scripts` and pnpm do); " +
        'build it with `npm rebuild better-sqlite3` (pnpm: `pnpm approve-builds`, then `pnpm rebuild better-sqlite3`)\n',
    );
    // …and it left no empty ledger file behind that the next run would take for a damaged one.
    expect(existsSync(join(dir, '.batchguard', 'cities.sqlite'))).toBe(false);

    // Built (the module this repository's install compiled, as `npm rebuild` would make it), it runs.
    const built = join(
      dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')),
      'build',
      'Release',
      'better_sqlite3.node',
    );
    mkdirSync(join(dir, 'node_modules/better-sqlite3/build/Release'), { recursive: true });
    copyFileSync(built, join(dir, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
    const run = cli('run', 'job.mjs', '--json');
    expect(run.stderr).not.toContain('error');
    expect(run.status).toBe(0);
    // Installed in the project, `batchguard` alone is not on the PATH: the hint says npx.
    expect(JSON.parse(run.stdout)).toMatchObject({ succeeded: 1, failed: 1, next: 'npx batchguard failures job.mjs' });

    // Tracing on, without the optional @opentelemetry/api: the run goes on untraced, and says why.
    expect(() => createRequire(join(dir, 'package.json')).resolve('@opentelemetry/api')).toThrow();
    writeFileSync(join(dir, 'traced.mjs'), TRACED_JOB_MJS);
    const traced = cli('run', 'traced.mjs', '--ledger', 'memory', '--json');
    const missing =
      "tracing is on (the job's tracing option), but the package @opentelemetry/api cannot be found from batchguard; " +
      'install it beside batchguard with `npm install @opentelemetry/api@1`; this run has no spans';
    expect(traced.stderr).toContain(`batchguard: warning: ${missing}\n`);
    expect(traced.stderr).not.toMatch(/error|at .*\.js:\d+/);
    expect(traced.status).toBe(0);
    expect(JSON.parse(traced.stdout)).toMatchObject({ status: 'completed', succeeded: 2, warnings: [missing] });
  }, 240_000);
});
