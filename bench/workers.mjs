#!/usr/bin/env node
/**
 * Many workers on one run: records/s of a job over N JSONL records run by 1, 2, 4 and 8 worker
 * processes (`run --worker`, PostgreSQL ledger), with a no-op handler and with a handler that waits
 * 5 ms (I/O-bound), and the same job as one run on the SQLite ledger. Prints each figure and the
 * scaling ratios (against one worker, and one PostgreSQL worker against SQLite).
 * Each figure is the wall time from starting the processes to the last one's exit, so process
 * start-up and planning are included, as a user would see them. Beside it: the CPU time (user +
 * system) of the worker processes per record, and of the PostgreSQL server's processes (all of
 * them, so other clients of the server count too), and the load average when the case started: on
 * a shared machine, compare CPU per record, not records/s.
 * The I/O-bound case runs RECORDS_WAIT records per worker (8 workers: 8 times as many), so that
 * every case runs for seconds and the start-up of 8 processes does not decide its figure.
 * With DEPS=1 the job has `dependsOn`: 30% of the records depend on a record up to 100 before them
 * (trees and chains, as a dependency-ordered export has), so the workers share chunks of whole
 * dependency components (docs/workers.md, "Dependencies").
 * Usage: npm run bench:workers   (RECORDS_NOOP=100000 RECORDS_WAIT=20000 WORKERS=1,2,4 DEPS=1 to change)
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database test).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RECORDS_NOOP = Number(process.env.RECORDS_NOOP ?? 200_000);
/** Records per worker of the I/O-bound case (and of its SQLite run, as one worker). */
const RECORDS_WAIT = Number(process.env.RECORDS_WAIT ?? 20_000);
const WORKERS = (process.env.WORKERS ?? '1,2,4,8').split(',').map(Number);
/** Records in flight per worker: what bounds an I/O-bound worker (concurrency / 5 ms). */
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const DEPS = process.env.DEPS === '1';
/** Record i's line: with DEPS, 3 in 10 depend on a record up to 100 before them (the same for every run). */
const line = (i) => {
  const parent = DEPS && i > 0 && (i * 7919) % 10 < 3 ? i - 1 - ((i * 104729) % Math.min(100, i)) : -1;
  return parent < 0 ? `{"id":${i},"name":"city-${i}"}` : `{"id":${i},"name":"city-${i}","after":["${parent}"]}`;
};
const BIN = resolve(import.meta.dirname, '../bin/batchguard.js');
const pg = createRequire(import.meta.url)('pg');

/** Each process writes its CPU time at exit into a file of this folder: the bench sums them per case. */
const CPU_HOOK = `data:text/javascript,${encodeURIComponent(
  "import { writeFileSync } from 'node:fs'; process.on('exit', () => { const u = process.cpuUsage(); " +
    'writeFileSync(`${process.env.BENCH_CPU_DIR}/${process.pid}`, String((u.user + u.system) / 1e6)); });',
)}`;

function run(args, cwd, cpuDir) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', CPU_HOOK, BIN, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_CPU_DIR: cpuDir },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`exit ${code}: ${err || out}`))));
  });
}

/** CPU seconds of every PostgreSQL server process so far, exited backends included (Linux /proc; 0 elsewhere). */
function postgresCpu() {
  if (!existsSync('/proc/self/stat')) return 0;
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) !== 'postgres') continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
    // The postmaster (its parent is not postgres) also holds its exited backends' time.
    if (fields[1] === '1') ticks += Number(fields[13]) + Number(fields[14]);
  }
  return ticks / 100;
}

/** Runs one case: its wall time, the CPU seconds of its processes and of the server, and the load when it began. */
async function measure(work) {
  const cpuDir = mkdtempSync(join(dir, 'cpu-'));
  const load = loadavg()[0];
  const pgBefore = postgresCpu();
  const started = performance.now();
  await work(cpuDir);
  const seconds = (performance.now() - started) / 1000;
  const pgSeconds = postgresCpu() - pgBefore;
  const cpu = readdirSync(cpuDir).reduce((sum, file) => sum + Number(readFileSync(join(cpuDir, file), 'utf8')), 0);
  rmSync(cpuDir, { recursive: true, force: true });
  return { seconds, cpu, pgSeconds, load };
}

function describe(records, m) {
  const perRecord = (s) => `${((s / records) * 1e6).toFixed(1)} µs`;
  return `${Math.round(records / m.seconds)} records/s; CPU per record: workers ${perRecord(m.cpu)}, PostgreSQL ${perRecord(m.pgSeconds)} (load ${m.load.toFixed(1)})`;
}

const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-workers-'));
if (DEPS) console.log('DEPS=1: the job has dependsOn (3 records in 10 depend on one up to 100 before them)');
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
const schemas = [];
try {
  const results = {};
  for (const kind of ['noop', 'wait']) {
    const most = kind === 'noop' ? RECORDS_NOOP : RECORDS_WAIT * Math.max(...WORKERS);
    const data = join(dir, `${kind}.jsonl`);
    writeFileSync(data, Array.from({ length: most }, (_, i) => line(i)).join('\n') + '\n');
    const recordsOf = (workers) => (kind === 'noop' ? RECORDS_NOOP : RECORDS_WAIT * workers);
    const jobFile = (workers) => {
      const file = join(dir, `${kind}-${workers}.mjs`);
      // The first `recordsOf(workers)` records of the file: a source of that many lines.
      const records = recordsOf(workers);
      const path = records === most ? data : join(dir, `${kind}-${workers}.jsonl`);
      if (path !== data) writeFileSync(path, readFileSync(data, 'utf8').split('\n').slice(0, records).join('\n') + '\n');
      writeFileSync(
        file,
        `import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'bench-workers-${kind}',
  source: jsonl(${JSON.stringify(path)}),
  key: (r) => String(r.id),${DEPS ? '\n  dependsOn: (r) => r.after ?? [],' : ''}
  concurrency: ${CONCURRENCY},
  handler: ${kind === 'wait' ? '() => new Promise((resolve) => setTimeout(resolve, 5))' : 'async () => {}'},
});
`,
      );
      return file;
    };
    const figures = {};
    const sqliteRecords = recordsOf(1);
    const sqliteJob = jobFile(1);
    const sqlite = await measure((cpuDir) => run(['run', sqliteJob, '--ledger', join(dir, `${kind}.sqlite`), '--quiet'], dir, cpuDir));
    figures.sqlite = sqliteRecords / sqlite.seconds;
    console.log(`${kind}: sqlite, one run, ${sqliteRecords} records: ${describe(sqliteRecords, sqlite)}`);
    for (const workers of WORKERS) {
      const records = recordsOf(workers);
      const job = workers === 1 ? sqliteJob : jobFile(workers);
      const schema = `bench_workers_${kind}_${workers}_${process.pid}`;
      schemas.push(schema);
      // Enough chunks for 8 workers to share the end of the run evenly.
      const perChunk = String(Math.max(500, Math.round(records / 64)));
      const args = ['run', job, '--ledger', PG_URL, '--pg-schema', schema, '--worker', '--records-per-chunk', perChunk, '--quiet'];
      // The first worker plans while the others wait on the plan: all start together, as on a cluster.
      const m = await measure((cpuDir) => Promise.all(Array.from({ length: workers }, () => run(args, dir, cpuDir))));
      figures[workers] = records / m.seconds;
      console.log(`${kind}: postgres, ${workers} worker${workers === 1 ? '' : 's'}, ${records} records: ${describe(records, m)}`);
    }
    results[kind] = figures;
  }
  console.log('\nscaling (records/s against one PostgreSQL worker), and one PostgreSQL worker against SQLite:');
  for (const [kind, figures] of Object.entries(results)) {
    const one = figures[1];
    const ratios = WORKERS.filter((w) => w !== 1).map((w) => `${w} workers ${(figures[w] / one).toFixed(2)}x`);
    console.log(
      `  ${kind === 'wait' ? '5 ms handler' : 'no-op handler'}: ${ratios.join(', ')}; postgres/sqlite ${(one / figures.sqlite).toFixed(2)}`,
    );
  }
} finally {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
