#!/usr/bin/env node
/**
 * One worker, a no-op handler, the same JSONL file: records/s with the SQLite ledger and with the
 * PostgreSQL ledger (target: PostgreSQL ≥ 0.5 × SQLite). Each run is its own process, with a new
 * ledger (a new file; a new schema, dropped after); each figure is the best of REPEAT runs.
 * Usage: npm run bench:postgres-ledger   (RECORDS=50000 for a quicker look; BATCHGUARD_BENCH_PG=postgres://… for another server)
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const RECORDS = Number(process.env.RECORDS ?? 200_000);
const REPEAT = Number(process.env.REPEAT ?? 3);
const PG_URL = process.env.BATCHGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-pg-'));
const data = join(dir, 'records.jsonl');
const worker = new URL('./postgres-ledger-worker.mjs', import.meta.url).pathname;
const admin = new pg.Client({ connectionString: PG_URL });

function measure(ledger, pgSchema) {
  const output = execFileSync(process.execPath, [worker, data, ledger, ...(pgSchema ? [pgSchema] : [])], { encoding: 'utf8' });
  const result = JSON.parse(output.trim().split('\n').pop());
  if (result.succeeded !== RECORDS) throw new Error(`expected ${RECORDS} successes, got ${result.succeeded}`);
  return result.recordsPerSecond;
}

async function best(run) {
  let top = 0;
  for (let i = 0; i < REPEAT; i++) top = Math.max(top, await run(i));
  return top;
}

try {
  await admin.connect();
  const lines = [];
  for (let i = 0; i < RECORDS; i++) lines.push(`{"id":${i},"name":"city-${i}","population":${i * 7}}`);
  writeFileSync(data, `${lines.join('\n')}\n`);
  const sqlite = await best((i) => measure(join(dir, `ledger-${i}.sqlite`)));
  const postgres = await best(async () => {
    const schema = `bg_bench_${randomBytes(5).toString('hex')}`;
    try {
      return measure(PG_URL, schema);
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
  const format = (n) => Math.round(n).toLocaleString('en-US');
  console.log(`records:              ${RECORDS.toLocaleString('en-US')} JSONL, no-op handler, one worker (best of ${REPEAT} runs each)`);
  console.log(`SQLite ledger:        ${format(sqlite)} records/s`);
  console.log(`PostgreSQL ledger:    ${format(postgres)} records/s (${PG_URL.replace(/:[^:@/]*@/, '@')})`);
  console.log(`ratio PostgreSQL / SQLite: ${(postgres / sqlite).toFixed(2)}  (target ≥ 0.5)`);
} finally {
  await admin.end().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
