#!/usr/bin/env node
/**
 * What the PostgreSQL ledger's group commits cost with the failing handler of bench/compare (5% of
 * records fail once transiently, 1% fatally) and with the no-op one: RECORDS records (default
 * 20,000), the job of bench/compare/contenders/batchguard-job.mjs, one process, a new schema per
 * run (dropped after). Counted by wrapping `pg`'s `Client.prototype.query` (load-independent): the
 * statements, the commits and the range statements among them; timed: the commits' transactions,
 * from BEGIN sent to COMMIT answered (or the commit's statement, sent to answered, when it is its
 * own transaction), and the run; the CPU of this process and of the server's backends for its
 * connections (read from /proc: the server must be local).
 * Usage: npm run build && node bench/postgres-commit-statements.mjs
 *   (BATCHGUARD_DIST=/other/checkout/dist measures another build; REPEAT=3 runs each handler 3 times;
 *   HANDLERS=failing runs only that one, default failing,noop)
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database test).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';
import { handlers } from './compare/handlers.mjs';
import { writeInput } from './compare/input.mjs';

const RECORDS = Number(process.env.RECORDS ?? 20_000);
const REPEAT = Number(process.env.REPEAT ?? 1);
const HANDLERS = (process.env.HANDLERS ?? 'failing,noop').split(',');
const PG_URL = process.env.BATCHGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const DIST = resolve(process.env.BATCHGUARD_DIST ?? new URL('../dist', import.meta.url).pathname);
const lib = await import(pathToFileURL(join(DIST, 'index.js')).href);
// The `pg` that this build's ledger loads (found from its own folder), so that its statements are the ones counted.
const pg = createRequire(join(DIST, 'index.js'))('pg');

const counts = { statements: 0, commits: 0, rangeStatements: 0, commitMs: 0, serverCpuMs: 0 };
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : (config?.text ?? '');
  counts.statements++;
  // A group commit's transaction is the one that writes the job's meta (meta_set), before and after the change.
  const sent = performance.now();
  // A commit statement sent outside a transaction is its own: timed alone (pg-pool passes a callback).
  const alone = text.includes('meta_set AS') && this.benchBegan === undefined;
  if (text.includes('meta_set AS')) {
    counts.commits++;
    this.benchCommit = true;
  }
  if (text.includes('WITH before AS')) counts.rangeStatements++;
  if (text === 'BEGIN' || text.startsWith('BEGIN ')) {
    this.benchBegan = sent;
    this.benchCommit = false;
  }
  const ended = text === 'COMMIT' || text === 'ROLLBACK';
  const began = this.benchBegan;
  if (ended) this.benchBegan = undefined;
  const timed = alone || (text === 'COMMIT' && this.benchCommit);
  const from = alone ? sent : began;
  const callback = typeof rest[rest.length - 1] === 'function' ? rest.pop() : undefined;
  if (callback !== undefined) {
    return original.call(this, config, ...rest, (...answer) => {
      if (timed) counts.commitMs += performance.now() - from;
      callback(...answer);
    });
  }
  const result = original.call(this, config, ...rest);
  if (timed && result instanceof Promise) {
    return result.then((value) => {
      counts.commitMs += performance.now() - from;
      return value;
    });
  }
  return result;
};

// The server's CPU for the run (its backends', read from /proc as each connection ends: the server
// is local). Load-independent, unlike the times, and the server shares the machine's CPUs.
const backendCpuMs = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
};
const CLOCK_TICKS = 100;
const originalEnd = pg.Client.prototype.end;
pg.Client.prototype.end = function (...args) {
  if (this.processID && !this.benchAdmin) counts.serverCpuMs += backendCpuMs(this.processID);
  return originalEnd.apply(this, args);
};

async function measure(handlerName, data) {
  const pgSchema = `bench_commit_${randomBytes(4).toString('hex')}`;
  Object.assign(counts, { statements: 0, commits: 0, rangeStatements: 0, commitMs: 0, serverCpuMs: 0 });
  const job = benchJob({ data, handler: handlers[handlerName](), concurrency: 8 }, lib);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const summary = await lib.runJob(job, { ledger: PG_URL, pgSchema });
  const elapsedMs = performance.now() - started;
  const { user, system } = process.cpuUsage(cpu);
  const admin = new pg.Client({ connectionString: PG_URL });
  admin.benchAdmin = true;
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
  await admin.end();
  return {
    handler: handlerName,
    succeeded: summary.succeeded,
    failed: summary.failed,
    ...counts,
    commitMs: Math.round(counts.commitMs),
    elapsedMs: Math.round(elapsedMs),
    cpuMs: Math.round((user + system) / 1000),
    load1: Number(loadavg()[0].toFixed(2)),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-commit-'));
try {
  const data = join(dir, 'records.jsonl');
  await writeInput(data, RECORDS);
  console.log(`build: ${DIST}; ${RECORDS} records; concurrency 8`);
  for (let i = 0; i < REPEAT; i++) {
    for (const name of HANDLERS) console.log(JSON.stringify(await measure(name, data)));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
