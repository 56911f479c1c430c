/**
 * A rerun shared by several worker processes over the real PostgreSQL (`rerun --failed --worker`).
 * A first run fails every record whose id ends in 3 or 7 (the handler reads FAIL_FIRST); the rerun,
 * without it, succeeds. The handler logs every call (id, pid, phase) and inserts the id into a table
 * keyed by it (ON CONFLICT DO NOTHING) in one statement, so the rerun's calls are counted exactly:
 * which records were called, how many times, by which worker. Each test has its own schema.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import { runCli, spawnCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const PG_MODULE = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href;
const RECORDS = 3000;
const CONCURRENCY = 4;
const EVERY_RECORDS = 20;
/** The ids the first run fails: 600 of 3,000, spread over the whole source. */
const failsFirst = (id: number): boolean => id % 10 === 3 || id % 10 === 7;
const FAILED = Array.from({ length: RECORDS }, (_, id) => id).filter(failsFirst);

describePg('a rerun shared by workers', () => {
  const pool = pgPool();

  async function setUp(schema: string, rerunDelayMs: number): Promise<string> {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".effects (id integer PRIMARY KEY)`);
    await pool.query(`CREATE TABLE "${schema}".calls (id integer NOT NULL, pid integer NOT NULL, phase text NOT NULL)`);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, FatalError } from 'batchguard';
const { default: pg } = await import(process.env.PG_MODULE);
const pool = new pg.Pool({ connectionString: ${JSON.stringify(PG_URL)}, max: ${CONCURRENCY}, options: '-c synchronous_commit=off', allowExitOnIdle: true });
pool.on('error', () => {});
const first = process.env.FAIL_FIRST === '1';
const phase = first ? 'first' : 'rerun';
const SQL = 'WITH c AS (INSERT INTO "${schema}".calls (id, pid, phase) VALUES ($1, $2, $3)) INSERT INTO "${schema}".effects (id) VALUES ($1) ON CONFLICT (id) DO NOTHING';
export default defineJob({
  name: 'shared-rerun',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  maxFailureRate: 0.5,
  checkpoint: { everyRecords: ${EVERY_RECORDS} },
  handler: async (r) => {
    if (first && (r.id % 10 === 3 || r.id % 10 === 7)) {
      await pool.query('INSERT INTO "${schema}".calls (id, pid, phase) VALUES ($1, $2, $3)', [r.id, process.pid, phase]);
      throw new FatalError('upstream rejected record ' + r.id);
    }
    if (!first) await new Promise((resolve) => setTimeout(resolve, ${rerunDelayMs}));
    await pool.query(SQL, [r.id, process.pid, phase]);
  },
});
`,
    );
    return dir;
  }

  const ledgerArgs = (schema: string): string[] => ['--ledger', PG_URL, '--pg-schema', schema];

  /** The first run, which fails {@link FAILED}. */
  async function firstRun(dir: string, schema: string, args: string[]): Promise<void> {
    const first = await runCli([...args, 'job.mjs', ...ledgerArgs(schema), '--json', '--no-progress'], {
      cwd: dir,
      env: { PG_MODULE, FAIL_FIRST: '1' },
    });
    expect(first.code).toBe(0);
    expect(await status(dir, schema)).toMatchObject({ total: RECORDS, succeeded: RECORDS - FAILED.length, failed: FAILED.length });
  }

  const rerunWorker = (dir: string, schema: string) =>
    spawnCli(['rerun', 'job.mjs', '--failed', '--worker', ...ledgerArgs(schema), '--lease', '2s', '--records-per-chunk', '40', '--json'], {
      cwd: dir,
      env: { PG_MODULE },
    });

  async function status(dir: string, schema: string): Promise<Record<string, unknown>> {
    const result = await runCli(['status', 'job.mjs', ...ledgerArgs(schema), '--json'], { cwd: dir, env: { PG_MODULE } });
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  const rerunCalls = async (schema: string): Promise<{ id: number; pid: number }[]> =>
    (await pool.query<{ id: number; pid: number }>(`SELECT id, pid FROM "${schema}".calls WHERE phase = 'rerun' ORDER BY id`)).rows;

  it('3 workers re-run the failed records of a single run: each exactly once, no other record, the work split among them', async () => {
    const schema = freshSchema('bg_e2e_rerun');
    const dir = await setUp(schema, 5);
    await firstRun(dir, schema, ['run']);
    const results: CliResult[] = await Promise.all([0, 1, 2].map(() => rerunWorker(dir, schema).result));
    for (const result of results) {
      expect(result.stderr).not.toMatch(/^batchguard: error/m);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        status: 'completed',
        rerun: '--failed',
        shared: { total: FAILED.length, succeeded: FAILED.length, failed: 0 },
      });
    }
    expect(results.filter((r) => (JSON.parse(r.stdout) as { planned: boolean }).planned)).toHaveLength(1);
    const calls = await rerunCalls(schema);
    // Every selected record once, and nothing else: the records that succeeded the first time are not called.
    expect(calls.map((c) => c.id)).toEqual(FAILED);
    const perWorker = new Map<number, number>();
    for (const call of calls) perWorker.set(call.pid, (perWorker.get(call.pid) ?? 0) + 1);
    console.log(`worker rerun e2e: ${FAILED.length} records re-run, per worker ${[...perWorker.values()].join(', ')}`);
    expect(perWorker.size).toBeGreaterThanOrEqual(2);
    expect(await status(dir, schema)).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, skipped: 0, pending: 0 });
  }, 300_000);

  it('3 workers re-run the failures of a shared run, one SIGKILLed mid-rerun: the others finish it, status shows 0 failed', async () => {
    const schema = freshSchema('bg_e2e_rerun');
    const dir = await setUp(schema, 20);
    await firstRun(dir, schema, ['run', '--worker', '--records-per-chunk', '500']);
    const workers = [0, 1, 2].map(() => rerunWorker(dir, schema));
    const victim = workers[0];
    for (;;) {
      const { rows } = await pool.query(`SELECT count(*) AS n FROM "${schema}".calls WHERE phase = 'rerun' AND pid = $1`, [victim?.pid]);
      if (Number(rows[0].n) >= 30) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    victim?.kill('SIGKILL');
    const results = await Promise.all(workers.map((w) => w.result));
    expect(results[0]?.signal).toBe('SIGKILL');
    for (const result of results.slice(1)) {
      expect(result.stderr).not.toMatch(/^batchguard: error/m);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', shared: { total: FAILED.length, succeeded: FAILED.length } });
    }
    const takenOver = results.slice(1).reduce((sum, r) => sum + (JSON.parse(r.stdout) as { chunksTakenOver: number }).chunksTakenOver, 0);
    expect(takenOver).toBeGreaterThanOrEqual(1);
    const calls = await rerunCalls(schema);
    // Every selected record re-run, no other; twice only what the killed worker had in flight or uncommitted.
    expect([...new Set(calls.map((c) => c.id))]).toEqual(FAILED);
    const twice = calls.length - FAILED.length;
    console.log(`worker rerun e2e, one SIGKILLed: ${calls.length} calls for ${FAILED.length} records, ${twice} twice`);
    expect(twice).toBeLessThanOrEqual(CONCURRENCY + 2 * EVERY_RECORDS);
    const effects = await pool.query(`SELECT count(*) AS n FROM "${schema}".effects`);
    expect(Number(effects.rows[0].n)).toBe(RECORDS);
    expect(await status(dir, schema)).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, skipped: 0, pending: 0 });
  }, 300_000);
});
