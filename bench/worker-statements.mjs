#!/usr/bin/env node
/**
 * Statements a shared run sends to PostgreSQL, counted by wrapping `pg`'s `Client.prototype.query`
 * in every worker process: a figure that does not depend on the machine's load, unlike records/s.
 * Two cases: one worker with a no-op handler over RECORDS_NOOP records (default 100,000), and
 * WORKERS_WAIT workers (default 4) with a handler that waits 5 ms over RECORDS_WAIT records
 * (default 20,000), both in 64 chunks. Prints per case: the statements by their first word, the
 * transactions that wrote (their COMMIT waits for the disk), and the writes sent outside a
 * transaction (each its own commit, flushed too).
 * Usage: npm run build && node bench/worker-statements.mjs
 * Needs PostgreSQL on 127.0.0.1:5432 (trust auth, database test).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RECORDS_NOOP = Number(process.env.RECORDS_NOOP ?? 100_000);
const RECORDS_WAIT = Number(process.env.RECORDS_WAIT ?? 20_000);
const WORKERS_WAIT = Number(process.env.WORKERS_WAIT ?? 4);
const BIN = resolve(import.meta.dirname, '../bin/batchguard.js');
const PG_PATH = createRequire(import.meta.url).resolve('pg');
const pg = createRequire(import.meta.url)('pg');

/**
 * Loaded first in every worker: counts each statement by its first word, and per connection whether
 * it is inside a transaction, to tell the commits that wrote (and so wait for the disk) from reads.
 */
const HOOK = `data:text/javascript,${encodeURIComponent(`
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
const pg = createRequire(${JSON.stringify(PG_PATH)})(${JSON.stringify(PG_PATH)});
const counts = { statements: 0, writingCommits: 0, autocommittedWrites: 0, byWord: {} };
const writes = (text) => /^\\s*(INSERT|UPDATE|DELETE)|\\bFOR (SHARE|UPDATE)\\b|^\\s*WITH[\\s\\S]*\\b(INSERT|UPDATE|DELETE)\\b/i.test(text);
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : (config?.text ?? '');
  const word = (text.trim().split(/\\s+/)[0] ?? '').toUpperCase();
  counts.statements++;
  counts.byWord[word] = (counts.byWord[word] ?? 0) + 1;
  if (word === 'BEGIN') { this.__inTx = true; this.__wrote = false; }
  else if (word === 'COMMIT' || word === 'ROLLBACK') { if (word === 'COMMIT' && this.__wrote) counts.writingCommits++; this.__inTx = false; }
  else if (writes(text)) { if (this.__inTx) this.__wrote = true; else counts.autocommittedWrites++; }
  return original.call(this, config, ...rest);
};
process.on('exit', () => writeFileSync(process.env.BENCH_COUNT_DIR + '/' + process.pid, JSON.stringify(counts)));
`)}`;

function run(args, cwd, countDir) {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', HOOK, BIN, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BENCH_COUNT_DIR: countDir },
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) => (code === 0 ? done() : fail(new Error(`exit ${code}: ${err}`))));
  });
}

const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-statements-'));
const admin = new pg.Client({ connectionString: PG_URL });
await admin.connect();
const schemas = [];
try {
  for (const [kind, records, workers] of [
    ['noop', RECORDS_NOOP, 1],
    ['wait', RECORDS_WAIT, WORKERS_WAIT],
  ]) {
    const data = join(dir, `${kind}.jsonl`);
    writeFileSync(data, Array.from({ length: records }, (_, i) => `{"id":${i}}`).join('\n') + '\n');
    const job = join(dir, `${kind}.mjs`);
    writeFileSync(
      job,
      `import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'bench-statements-${kind}',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  concurrency: 16,
  handler: ${kind === 'wait' ? '() => new Promise((resolve) => setTimeout(resolve, 5))' : 'async () => {}'},
});
`,
    );
    const schema = `bench_statements_${kind}_${process.pid}`;
    schemas.push(schema);
    const countDir = mkdtempSync(join(dir, 'counts-'));
    const perChunk = String(Math.max(100, Math.round(records / 64)));
    const args = ['run', job, '--ledger', PG_URL, '--pg-schema', schema, '--worker', '--records-per-chunk', perChunk, '--quiet'];
    await Promise.all(Array.from({ length: workers }, () => run(args, dir, countDir)));
    const total = { statements: 0, writingCommits: 0, autocommittedWrites: 0, byWord: {} };
    for (const file of readdirSync(countDir)) {
      const c = JSON.parse(readFileSync(join(countDir, file), 'utf8'));
      total.statements += c.statements;
      total.writingCommits += c.writingCommits;
      total.autocommittedWrites += c.autocommittedWrites;
      for (const [word, n] of Object.entries(c.byWord)) total.byWord[word] = (total.byWord[word] ?? 0) + n;
    }
    const words = Object.entries(total.byWord)
      .sort((a, b) => b[1] - a[1])
      .map(([word, n]) => `${word} ${n}`)
      .join(', ');
    console.log(
      `${kind === 'noop' ? 'no-op' : '5 ms'}, ${workers} worker${workers === 1 ? '' : 's'}, ${records} records in 64 chunks: ` +
        `${total.statements} statements (${words}); ${total.writingCommits} writing transactions, ${total.autocommittedWrites} writes outside one`,
    );
  }
} finally {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
}
