/**
 * A real PostgreSQL outage under the spawned CLI: the job inserts each record as a dedicated role;
 * mid-run the database refuses that role (NOLOGIN, its sessions terminated). The breaker must open
 * within a few records, fail none, and either recover (exit 0) or abort resumably (exit 3), and the
 * table must end with every record exactly once.
 *
 * Needs PostgreSQL on 127.0.0.1:5432 with trust auth, a database `test` and a superuser `postgres`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { RETRY_WAITING_PER_SLOT } from '../../src/engine/retry-room.js';

const PG = { host: '127.0.0.1', port: 5432, database: 'test' };
const PG_MODULE = pathToFileURL(createRequire(import.meta.url).resolve('pg')).href;
const RECORDS = 400;
const CONCURRENCY = 4;
const BREAKER = {
  consecutiveFailures: 8,
  failureRate: 0.5,
  windowRecords: 50,
  minRecords: 10,
  probeDelayMs: 200,
  maxProbeDelayMs: 1000,
  probeSuccesses: 3,
  maxOpenMs: 30_000,
};

interface Attempt {
  id: number;
  attempt: number;
  phase: 'start' | 'ok' | 'error' | 'fatal' | 'opened';
  t: number;
  inserted?: number;
  message?: string;
}

let admin: pg.Client;
let role: string;
let table: string;

beforeEach(async () => {
  const suffix = randomBytes(4).toString('hex');
  role = `bg_outage_${suffix}`;
  table = `bg_outage_items_${suffix}`;
  admin = new pg.Client({ ...PG, user: 'postgres' });
  await admin.connect();
  await admin.query(`CREATE ROLE ${role} LOGIN`);
  await admin.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, inserted_at timestamptz NOT NULL DEFAULT now())`);
  await admin.query(`GRANT SELECT, INSERT ON ${table} TO ${role}`);
});

afterEach(async () => {
  // Whatever happened: the role can log in again, then the role and the table are gone.
  try {
    await admin.query(`ALTER ROLE ${role} LOGIN`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
    await admin.query(`DROP TABLE IF EXISTS ${table}`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await admin.end();
  }
});

async function outage(): Promise<void> {
  await admin.query(`ALTER ROLE ${role} NOLOGIN`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [role]);
}

async function restore(): Promise<void> {
  await admin.query(`ALTER ROLE ${role} LOGIN`);
}

async function tableCounts(): Promise<{ rows: number; distinct: number; min: number; max: number }> {
  const result = await admin.query(
    `SELECT COUNT(*)::int AS rows, COUNT(DISTINCT id)::int AS distinct, MIN(id) AS min, MAX(id) AS max FROM ${table}`,
  );
  return result.rows[0];
}

/** Writes the records and a job file that inserts each one as `role` into `table`. */
function writeJob(dir: string, breaker: object): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, FatalError } from 'batchguard';
// A scratch folder cannot resolve 'pg': the test passes the absolute URL of its copy.
const { default: pg } = await import(process.env.PG_MODULE);

const LOG = ${JSON.stringify(join(dir, 'attempts.jsonl'))};
const FAIL_PERCENT = Number(process.env.FAIL_PERCENT ?? 0);
const log = (entry) => appendFileSync(LOG, JSON.stringify({ ...entry, t: Date.now() }) + '\\n');

// Connects as the test's role, and gives up on a connection quickly.
const pool = new pg.Pool({
  host: '127.0.0.1', port: 5432, database: 'test', user: ${JSON.stringify(role)},
  max: ${CONCURRENCY}, connectionTimeoutMillis: 1000, query_timeout: 3000,
});
pool.on('error', () => {}); // an idle session terminated by the server: the next query reconnects

export default defineJob({
  name: 'pg-outage',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  timeoutMs: 10_000,
  retry: { maxAttempts: 6, backoff: { kind: 'constant', delayMs: 50 } },
  breaker: ${JSON.stringify(breaker)},
  // When the breaker opened, on the run's own clock (the test sees stderr later, and later still under load).
  onEvent: (event) => {
    if (event.type === 'breaker:opened') log({ id: -1, attempt: 0, phase: 'opened' });
  },
  handler: async (r, ctx) => {
    log({ id: r.id, attempt: ctx.attempt, phase: 'start' });
    if (r.id % 100 < FAIL_PERCENT) {
      log({ id: r.id, attempt: ctx.attempt, phase: 'fatal' });
      throw new FatalError('record ' + r.id + ' is malformed');
    }
    try {
      await new Promise((resolve) => setTimeout(resolve, 5));
      const result = await pool.query('INSERT INTO ${table} (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [r.id]);
      log({ id: r.id, attempt: ctx.attempt, phase: 'ok', inserted: result.rowCount });
      return { inserted: result.rowCount };
    } catch (error) {
      log({ id: r.id, attempt: ctx.attempt, phase: 'error', message: error.message });
      throw error;
    }
  },
});
`,
  );
}

function attempts(dir: string): Attempt[] {
  const path = join(dir, 'attempts.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Attempt);
}

const env = (extra: Record<string, string> = {}): Record<string, string> => ({ PG_MODULE, ...extra });

async function status(dir: string): Promise<{ total: number; succeeded: number; failed: number; skipped: number; pending: number }> {
  const result = await runCli(['status', 'job.mjs', '--json'], { cwd: dir, env: env() });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/** Starts the run, cuts the role off once `afterRows` rows are in, and reports what it saw. */
async function runWithOutage(dir: string, afterRows: number, restoreAfterMs: number | undefined) {
  const child = spawnCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir, env: env() });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  let exited = false;
  const result = child.result.then((r: CliResult) => {
    exited = true;
    return { ...r, at: Date.now() };
  });
  let rows = 0;
  while (rows < afterRows && !exited) {
    rows = (await tableCounts()).rows;
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(exited).toBe(false);
  const outageAt = Date.now();
  await outage();
  await waitFor(() => stderr.includes('breaker opened') || exited, 20_000);
  const openedSeenAt = Date.now();
  if (restoreAfterMs !== undefined) {
    await new Promise((r) => setTimeout(r, restoreAfterMs));
    await restore();
  }
  const end = await result;
  return { ...end, stderr, outageAt, openedSeenAt };
}

describe('a PostgreSQL outage under the CLI', () => {
  it('opens the breaker within a few records, fails none, recovers, and inserts every record exactly once', async () => {
    const dir = tempDir();
    writeJob(dir, BREAKER);
    const run = await runWithOutage(dir, 100, 2000);

    expect(run.stderr).toContain('batchguard: breaker opened');
    expect(run.stderr).toContain('batchguard: breaker closed');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS, failed: 0, pending: 0 });
    expect(summary.breaker.trips).toBeGreaterThanOrEqual(1);

    const log = attempts(dir);
    // Records started after the outage took effect (the first failed insert: under load, locking the
    // role and ending its sessions takes a while, and records started meanwhile succeed) and before
    // the breaker opened: bounded by the trip threshold, not by the size of the input.
    const firstStart = new Map<number, number>();
    for (const a of log) if (a.phase === 'start' && !firstStart.has(a.id)) firstStart.set(a.id, a.t);
    const openedAt = log.find((a) => a.phase === 'opened')?.t as number;
    expect(openedAt).toBeGreaterThanOrEqual(run.outageAt);
    const failingFrom = log.find((a) => a.phase === 'error' && a.t >= run.outageAt)?.t as number;
    expect(failingFrom).toBeLessThanOrEqual(openedAt);
    const startedDuringTrip = [...firstStart.values()].filter((t) => t >= failingFrom && t <= openedAt).length;
    const hit = new Set(log.filter((a) => a.phase === 'error' && a.t <= openedAt).map((a) => a.id));
    console.log(
      `postgres outage: breaker open ${openedAt - run.outageAt} ms after the outage began (${openedAt - failingFrom} ms after the first failed insert); ${startedDuringTrip} records started in between; ${hit.size} records hit by errors before it opened`,
    );
    // A first failure that will be retried is no evidence on its own (a service where every record
    // needs one retry is serving): the breaker opens when retries fail too. Until then the reader
    // goes on, up to RETRY_WAITING_PER_SLOT records waiting to retry per slot: that is the bound.
    const bound = (1 + RETRY_WAITING_PER_SLOT) * CONCURRENCY;
    expect(hit.size).toBeGreaterThan(0);
    expect(hit.size).toBeLessThanOrEqual(bound);
    expect(startedDuringTrip).toBeLessThanOrEqual(bound);
    // Every record's handler succeeded exactly once.
    const oks = new Map<number, number>();
    for (const a of log) if (a.phase === 'ok') oks.set(a.id, (oks.get(a.id) ?? 0) + 1);
    expect(oks.size).toBe(RECORDS);
    expect([...oks.values()].every((n) => n === 1)).toBe(true);

    expect(await status(dir)).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, skipped: 0, pending: 0 });
    expect(await tableCounts()).toEqual({ rows: RECORDS, distinct: RECORDS, min: 0, max: RECORDS - 1 });
  });

  it('aborts with exit 3 when the outage outlasts maxOpenMs, keeps the ledger intact, and a later run finishes', async () => {
    const dir = tempDir();
    const maxOpenMs = 3000;
    writeJob(dir, { ...BREAKER, maxOpenMs, probeDelayMs: 200 });
    const run = await runWithOutage(dir, 100, undefined);

    expect(run.stderr).toContain('batchguard: breaker opened');
    expect(run.code).toBe(3);
    const abortMs = run.at - run.openedSeenAt;
    console.log(`postgres outage: exit 3 came ${abortMs} ms after the breaker was seen open (maxOpenMs ${maxOpenMs})`);
    expect(abortMs).toBeGreaterThan(maxOpenMs - 1000);
    expect(abortMs).toBeLessThan(maxOpenMs + 3000);
    const summary = JSON.parse(run.stdout);
    expect(summary.status).toBe('aborted');
    expect(summary.reason).toMatch(/did not recover within 3000 ms/);
    expect(summary.reason).toMatch(/not permitted to log in|password authentication|terminating connection/);
    expect(summary.breaker.lastTrip.error.message).toMatch(/not permitted to log in|terminating connection/);
    expect(summary.next).toBe('batchguard run job.mjs');
    expect(summary.failed).toBe(0);

    const first = await status(dir);
    expect(first.failed).toBe(0);
    expect(first.skipped).toBe(0);
    expect(first.pending).toBeGreaterThan(0);
    expect(first.total).toBe(first.succeeded + first.pending);
    expect(first.succeeded).toBeLessThan(RECORDS);
    const inTable = (await tableCounts()).rows;
    // Each success is in the table; an insert whose session died before the answer may be too.
    expect(inTable).toBeGreaterThanOrEqual(first.succeeded);
    expect(inTable).toBeLessThanOrEqual(first.succeeded + first.pending);

    await restore();
    const second = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir, env: env() });
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      status: 'completed',
      total: RECORDS,
      succeeded: RECORDS,
      failed: 0,
      pending: 0,
      alreadyDone: first.succeeded,
    });
    expect(await status(dir)).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, pending: 0 });
    expect(await tableCounts()).toEqual({ rows: RECORDS, distinct: RECORDS, min: 0, max: RECORDS - 1 });
    const oks = new Map<number, number>();
    for (const a of attempts(dir)) if (a.phase === 'ok') oks.set(a.id, (oks.get(a.id) ?? 0) + 1);
    expect(oks.size).toBe(RECORDS);
    expect([...oks.values()].every((n) => n === 1)).toBe(true);
  });

  it('3% genuinely bad records on a healthy database never trip the breaker', async () => {
    const dir = tempDir();
    // Records 0, 1, 2 of each hundred are bad: 3 in a row and 3% would trip this breaker if fatal
    // errors counted as systemic.
    writeJob(dir, { ...BREAKER, consecutiveFailures: 3, failureRate: 0.02 });
    const run = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir, env: env({ FAIL_PERCENT: '3' }) });
    expect(run.stderr).not.toContain('breaker opened');
    expect(run.code).toBe(0);
    const bad = RECORDS * 0.03;
    const summary = JSON.parse(run.stdout);
    expect(summary).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS - bad, failed: bad, pending: 0 });
    expect(summary.breaker).toMatchObject({ trips: 0, state: 'closed' });
    expect(await status(dir)).toMatchObject({ total: RECORDS, succeeded: RECORDS - bad, failed: bad, pending: 0 });
    expect((await tableCounts()).rows).toBe(RECORDS - bad);
  });
});
