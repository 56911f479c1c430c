/**
 * Three worker processes on one run of a job with `dependsOn` over the real PostgreSQL, one of them
 * SIGKILLed mid-run: records depend on records planted half the file away (a contiguous split
 * would put them in other chunks), some parents fail and their children are skipped, never run.
 * The outcomes (`status --json`, `failures --format jsonl`) are those of a single-process run of
 * the same job; each record's handler is called once, but for the killed worker's bound. Then
 * `rerun --failed --worker` by three workers (parents that fail again, children unblocked or
 * skipped again) gives the outcomes of `rerun --failed` by one process on the single run's ledger.
 * The handler logs every call (id, pid) into a table of its test's schema.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { fails, parentsOf, writePlantedDependencies } from '../helpers/planted-dependencies.js';
import { tempDir } from '../helpers/temp.js';

const PG_MODULE = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href;
const RECORDS = 3000;
const CONCURRENCY = 4;
const EVERY_RECORDS = 50;

describePg('workers on a job with dependsOn', () => {
  const pool = pgPool();

  /** The job: each call logs (id, pid) in the `calls` table of $CALLS_SCHEMA, waits a little, and fails every 37th record. */
  function writeJob(dir: string): void {
    writePlantedDependencies(dir, 'records.jsonl', RECORDS);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, FatalError } from 'batchguard';
const { default: pg } = await import(process.env.PG_MODULE);
const pool = new pg.Pool({ connectionString: ${JSON.stringify(PG_URL)}, max: ${CONCURRENCY}, options: '-c synchronous_commit=off', allowExitOnIdle: true });
pool.on('error', () => {});
const SQL = 'INSERT INTO "' + process.env.CALLS_SCHEMA + '".calls (id, pid) VALUES ($1, $2)';
export default defineJob({
  name: 'planted',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  dependsOn: (r) => r.after ?? [],
  concurrency: ${CONCURRENCY},
  checkpoint: { everyRecords: ${EVERY_RECORDS} },
  retry: { maxAttempts: 1 },
  maxFailureRate: 1,
  handler: async (r) => {
    await pool.query(SQL, [r.id, process.pid]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (r.id % Number(process.env.FAIL_EVERY ?? 37) === 0) throw new FatalError('bad record ' + r.id);
  },
});
`,
    );
  }

  async function callsTable(): Promise<string> {
    const schema = freshSchema('bg_e2e_deps_calls');
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".calls (id integer NOT NULL, pid integer NOT NULL)`);
    return schema;
  }

  const count = async (sql: string): Promise<number> => Number((await pool.query(sql)).rows[0].n);

  /** What `status --json` and `failures --format jsonl` say, without run ids and times. */
  async function outcomes(dir: string, schema: string): Promise<{ status: unknown; failures: unknown[] }> {
    const ledger = ['--ledger', PG_URL, '--pg-schema', schema];
    const env = { PG_MODULE, CALLS_SCHEMA: 'unused' };
    const status = await runCli(['status', 'job.mjs', ...ledger, '--json'], { cwd: dir, env });
    expect(status.code, status.stderr).toBe(0);
    const { total, succeeded, failed, skipped, pending } = JSON.parse(status.stdout) as Record<string, number>;
    const failures = await runCli(['failures', 'job.mjs', ...ledger, '--format', 'jsonl'], { cwd: dir, env });
    expect(failures.code, failures.stderr).toBe(0);
    const rows = failures.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, any>)
      .map(({ key, status, kind, attempts, blockedBy, error, source }) => ({
        key,
        status,
        kind,
        attempts,
        blockedBy,
        message: error?.message,
        source,
      }))
      .sort((a, b) => String(a.key).localeCompare(String(b.key)));
    return { status: { total, succeeded, failed, skipped, pending }, failures: rows };
  }

  it(`3 workers, one SIGKILLed: the outcomes of a single-process run, children of failed parents never run, each record called once but for the killed worker's bound`, async () => {
    const dir = tempDir();
    writeJob(dir);
    const single = freshSchema('bg_e2e_deps');
    const singleCalls = await callsTable();
    const alone = await runCli(['run', 'job.mjs', '--ledger', PG_URL, '--pg-schema', single, '--no-worker', '--no-progress'], {
      cwd: dir,
      env: { PG_MODULE, CALLS_SCHEMA: singleCalls },
    });
    expect(alone.code, alone.stderr).toBe(0);

    const shared = freshSchema('bg_e2e_deps');
    const calls = await callsTable();
    const args = [
      'run',
      'job.mjs',
      '--ledger',
      PG_URL,
      '--pg-schema',
      shared,
      '--worker',
      '--lease',
      '2s',
      '--records-per-chunk',
      '250',
      '--json',
    ];
    const workers = [0, 1, 2].map(() => spawnCli(args, { cwd: dir, env: { PG_MODULE, CALLS_SCHEMA: calls } }));
    const victim = workers[0];
    for (;;) {
      const n = await count(`SELECT count(*) AS n FROM "${calls}".calls WHERE pid = ${victim?.pid}`);
      if (n > RECORDS / 30) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    victim?.kill('SIGKILL');
    const results: CliResult[] = await Promise.all(workers.map((w) => w.result));
    expect(results[0]?.signal).toBe('SIGKILL');
    for (const result of results.slice(1)) {
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', pending: 0 });
    }
    const takenOver = results.slice(1).reduce((sum, r) => sum + (JSON.parse(r.stdout) as { chunksTakenOver: number }).chunksTakenOver, 0);
    expect(takenOver).toBeGreaterThanOrEqual(1);

    const expected = await outcomes(dir, single);
    expect(await outcomes(dir, shared)).toEqual(expected);
    // The source as planted: failed parents, their skipped children, the missing parent, the repeated key.
    const failures = expected.failures as { key: string; status: string }[];
    const skipped = failures.filter((f) => f.status === 'skipped').map((f) => Number(f.key));
    expect(skipped.length).toBeGreaterThan(20);
    expect(expected.status).toMatchObject({ total: RECORDS + 2, pending: 0, skipped: skipped.length });
    // A skipped child depends (directly or through its parent) on a record that failed.
    for (const id of skipped.slice(0, 5)) expect(parentsOf(id, RECORDS).length).toBeGreaterThan(0);
    // Children of failed parents never ran; every other record ran once, but for the killed worker's bound.
    expect(await count(`SELECT count(*) AS n FROM "${calls}".calls WHERE id = ANY('{${skipped.join(',')}}'::int[])`)).toBe(0);
    const ran = await count(`SELECT count(DISTINCT id) AS n FROM "${calls}".calls`);
    expect(ran).toBe(await count(`SELECT count(DISTINCT id) AS n FROM "${singleCalls}".calls`));
    const twice = (await count(`SELECT count(*) AS n FROM "${calls}".calls`)) - ran;
    console.log(
      `workers-dependencies e2e: ${RECORDS} records, ${ran} run, ${twice} called twice (bound ${CONCURRENCY + 2 * EVERY_RECORDS})`,
    );
    expect(twice).toBeLessThanOrEqual(CONCURRENCY + 2 * EVERY_RECORDS);
    expect(fails(37)).toBe(true);

    // The reruns: every 74th record fails again (its children are skipped again), the rest succeed.
    const rerunEnv = (schema: string) => ({ cwd: dir, env: { PG_MODULE, CALLS_SCHEMA: schema, FAIL_EVERY: '74' } });
    const singleRerun = await runCli(
      ['rerun', 'job.mjs', '--failed', '--ledger', PG_URL, '--pg-schema', single, '--no-progress'],
      rerunEnv(await callsTable()),
    );
    expect(singleRerun.code, singleRerun.stderr).toBe(0);
    const rerunCalls = await callsTable();
    const rerunArgs = ['rerun', 'job.mjs', '--failed', '--worker', '--ledger', PG_URL, '--pg-schema', shared];
    const reruns = await Promise.all(
      [0, 1, 2].map(() => spawnCli([...rerunArgs, '--records-per-chunk', '10', '--json'], rerunEnv(rerunCalls)).result),
    );
    for (const result of reruns) expect(result.code, result.stderr).toBe(0);
    const summaries = reruns.map((r) => JSON.parse(r.stdout) as { status: string; chunksDone: number; rerun: string });
    expect(summaries.map((s) => [s.status, s.rerun])).toEqual(Array(3).fill(['completed', '--failed']));
    expect(summaries.filter((s) => s.chunksDone > 0).length).toBeGreaterThan(1);
    const rerunExpected = await outcomes(dir, single);
    expect(await outcomes(dir, shared)).toEqual(rerunExpected);
    expect(rerunExpected.status).toMatchObject({ pending: 0 });
    const skippedAgain = (rerunExpected.failures as { status: string }[]).filter((f) => f.status === 'skipped').length;
    expect(skippedAgain).toBeGreaterThan(0);
    expect(skippedAgain).toBeLessThan(skipped.length);
    // Each selected record was called once at most (skipped again: not at all).
    expect(await count(`SELECT count(*) - count(DISTINCT id) AS n FROM "${rerunCalls}".calls`)).toBe(0);
  }, 120_000);
});
