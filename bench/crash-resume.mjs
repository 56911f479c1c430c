#!/usr/bin/env node
/**
 * Crash recovery at full speed: records/s of an uninterrupted run, and of the run that resumes
 * after a SIGKILL half-way (its crash suspects included), at concurrency 64 with a 50 ms handler.
 * Prints both, their ratio (target ≥ 0.5) and how many suspects the crash left.
 * Usage: npm run bench:crash   (RECORDS=5000 npm run bench:crash for a quicker look)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';

const RECORDS = Number(process.env.RECORDS ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-crash-bench-'));
const data = join(dir, 'records.jsonl');
const worker = new URL('./crash-resume-worker.mjs', import.meta.url).pathname;

function run(ledger) {
  const output = execFileSync(process.execPath, [worker, data, ledger], { encoding: 'utf8' });
  return JSON.parse(output.trim().split('\n').pop());
}

/** Starts a run and SIGKILLs it once `count` records are committed. */
async function killAfter(ledger, count) {
  const child = spawn(process.execPath, [worker, data, ledger], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (committed(ledger) >= count) break;
  }
  child.kill('SIGKILL');
  await exited;
}

function committed(ledger) {
  try {
    const db = new Database(ledger, { readonly: true, timeout: 1000 });
    try {
      return Number(db.prepare('SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) FROM succeeded_ranges').pluck().get());
    } finally {
      db.close();
    }
  } catch {
    return 0; // not created yet
  }
}

/** How many records the dead run's crash note says may have been in flight. */
function notedRecords(ledger) {
  const db = new Database(ledger, { readonly: true });
  try {
    const text = db.prepare("SELECT value FROM meta WHERE key = 'in_flight'").pluck().get();
    if (text === undefined) return 0;
    const note = JSON.parse(text);
    const seqs = new Set(note.started);
    for (const range of note.ahead) for (let seq = range.first; seq <= range.last; seq++) seqs.add(seq);
    return seqs.size;
  } finally {
    db.close();
  }
}

try {
  writeFileSync(data, Array.from({ length: RECORDS }, (_, i) => `{"id":${i}}\n`).join(''));
  const uninterrupted = run(join(dir, 'whole.sqlite'));
  const ledger = join(dir, 'crashed.sqlite');
  await killAfter(ledger, RECORDS / 2);
  const before = committed(ledger);
  const noted = notedRecords(ledger);
  const resume = run(ledger);
  const ratio = resume.recordsPerSecond / uninterrupted.recordsPerSecond;
  console.log(`records: ${RECORDS}, concurrency ${process.env.CONCURRENCY ?? 64}, handler ${process.env.HANDLER_MS ?? 50} ms`);
  console.log(`uninterrupted: ${uninterrupted.recordsPerSecond.toFixed(0)} records/s`);
  console.log(
    `resume after SIGKILL at ${before} committed: ${resume.recordsPerSecond.toFixed(0)} records/s (${resume.finished} records, ${resume.failed} failed)`,
  );
  console.log(`records the crash note named (suspects before removing those committed): ${noted}`);
  console.log(`ratio: ${ratio.toFixed(2)} (target >= 0.5)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
