#!/usr/bin/env node
/**
 * Where a run's reading waits (the summary's `waits`, engine/reader-waits.ts): the job of
 * bench/compare/contenders/batchguard-job.mjs over RECORDS generated records (default 100,000), with
 * the no-op and the failing handler of bench/compare, on the SQLite ledger (a new file) and the
 * PostgreSQL one (a new schema, dropped after), one process each. Prints one line a run: its elapsed
 * time and how much of it the reader waited for a slot, for the ledger's commits, for crash notes.
 * Usage: npm run build && node bench/reader-waits.mjs   (RECORDS=20000, LEDGERS=sqlite,
 * HANDLERS=noop; BATCHGUARD_BENCH_PG=postgres://… for another server)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeInput } from './compare/input.mjs';

const RECORDS = Number(process.env.RECORDS ?? 100_000);
const LEDGERS = (process.env.LEDGERS ?? 'sqlite,postgres').split(',');
const HANDLERS = (process.env.HANDLERS ?? 'noop,failing').split(',');
const PG_URL = process.env.BATCHGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'batchguard_bench_reader_waits';
const [role, ledgerKind, handlerName, data, dir] = process.argv.slice(2);

async function dropSchema() {
  const pg = createRequire(import.meta.url)('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await client.end();
}

if (role === 'run') {
  const { runJob } = await import('../dist/bundle/index.js');
  const { benchJob } = await import('./compare/contenders/batchguard-job.mjs');
  const { handlers } = await import('./compare/handlers.mjs');
  const job = benchJob({ data, handler: handlers[handlerName](), concurrency: 8 });
  const where = ledgerKind === 'postgres' ? { ledger: PG_URL, pgSchema: SCHEMA } : { ledger: join(dir, 'ledger.sqlite') };
  const summary = await runJob(job, where);
  process.stdout.write(`${JSON.stringify({ elapsedMs: summary.elapsedMs, waits: summary.waits })}\n`);
  process.exit(0);
}

const work = mkdtempSync(join(tmpdir(), 'batchguard-reader-waits-'));
try {
  const input = join(work, 'records.jsonl');
  await writeInput(input, RECORDS);
  console.log(`${RECORDS} records, concurrency 8; ms of the run's elapsed time`);
  for (const ledgerKind of LEDGERS) {
    for (const handlerName of HANDLERS) {
      const runDir = mkdtempSync(join(work, 'run-'));
      if (ledgerKind === 'postgres') await dropSchema();
      const output = execFileSync(process.execPath, [new URL(import.meta.url).pathname, 'run', ledgerKind, handlerName, input, runDir], {
        encoding: 'utf8',
      });
      if (ledgerKind === 'postgres') await dropSchema();
      const { elapsedMs, waits } = JSON.parse(output.trim().split('\n').pop());
      const share = (ms) => `${ms} (${Math.round((ms / elapsedMs) * 100)}%)`;
      console.log(
        `${ledgerKind.padEnd(8)} ${handlerName.padEnd(7)} elapsed ${elapsedMs}  slots ${share(waits.slotsMs)}  ledger ${share(waits.ledgerMs)}  crash notes ${share(waits.notesMs)}  breaker ${waits.breakerMs}`,
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
