#!/usr/bin/env node
/**
 * Many workers on one run: records/s of a job over N JSONL records run by 1, 2, 4 and 8 worker
 * processes (`run --worker`, PostgreSQL ledger), with a no-op handler and with a handler that waits
 * 5 ms (I/O-bound), and the same job as one run on the SQLite ledger. Prints each figure and the
 * scaling ratios (against one worker, and one PostgreSQL worker against SQLite).
 * Each figure is the wall time from starting the processes to the last one's exit, so process
 * start-up and planning are included, as a user would see them.
 * Usage: npm run bench:workers   (RECORDS_NOOP=100000 RECORDS_WAIT=20000 WORKERS=1,2,4 to change)
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database test).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RECORDS = { noop: Number(process.env.RECORDS_NOOP ?? 200_000), wait: Number(process.env.RECORDS_WAIT ?? 40_000) };
const WORKERS = (process.env.WORKERS ?? '1,2,4,8').split(',').map(Number);
/** Records in flight per worker: what bounds an I/O-bound worker (concurrency / 5 ms). */
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const BIN = resolve(import.meta.dirname, '../bin/batchguard.js');
const pg = createRequire(import.meta.url)('pg');

function run(args, cwd) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => (code === 0 ? done(out) : fail(new Error(`exit ${code}: ${err || out}`))));
  });
}

async function timed(work) {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-workers-'));
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
const schemas = [];
try {
  const results = {};
  for (const kind of ['noop', 'wait']) {
    const records = RECORDS[kind];
    const data = join(dir, `${kind}.jsonl`);
    writeFileSync(data, Array.from({ length: records }, (_, i) => `{"id":${i},"name":"city-${i}"}`).join('\n') + '\n');
    const jobFile = join(dir, `${kind}.mjs`);
    writeFileSync(
      jobFile,
      `import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'bench-workers-${kind}',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  handler: ${kind === 'wait' ? '() => new Promise((resolve) => setTimeout(resolve, 5))' : 'async () => {}'},
});
`,
    );
    const figures = {};
    const sqlite = await timed(() => run(['run', jobFile, '--ledger', join(dir, `${kind}.sqlite`), '--quiet'], dir));
    figures.sqlite = records / sqlite;
    console.log(`${kind}: sqlite, one run: ${Math.round(figures.sqlite)} records/s`);
    for (const workers of WORKERS) {
      const schema = `bench_workers_${kind}_${workers}_${process.pid}`;
      schemas.push(schema);
      // Enough chunks for 8 workers to share the end of the run evenly.
      const perChunk = String(Math.max(500, Math.round(records / 64)));
      const args = ['run', jobFile, '--ledger', PG_URL, '--pg-schema', schema, '--worker', '--records-per-chunk', perChunk, '--quiet'];
      // The first worker plans while the others wait on the plan: all start together, as on a cluster.
      const seconds = await timed(() => Promise.all(Array.from({ length: workers }, () => run(args, dir))));
      figures[workers] = records / seconds;
      console.log(`${kind}: postgres, ${workers} worker${workers === 1 ? '' : 's'}: ${Math.round(figures[workers])} records/s`);
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
