/**
 * What checking a ledger's integrity on open costs: builds ledgers of 1M records with the schema of
 * dist/ and times `PRAGMA quick_check` on each (best of 3, page cache cold and warm).
 *
 *   npm run build && node bench/ledger-integrity-check.mjs [records]
 *
 * Two shapes: "mostly succeeded" (1M records, 1% failed: successes are range rows, failures one row
 * each with an error) and "all failed" (every record a row with a ~300-byte error: the largest
 * ledger 1M records make). Prints one line per shape: file size and the check's time.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SCHEMA_SQL } from '../dist/ledger/sqlite/schema.js';

const records = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'bg-integrity-'));

function build(path, failedEvery) {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA_SQL);
  const row = db.prepare(`INSERT INTO records (seq, key, status, kind, attempts, error, fingerprint, run_id, line, byte_offset, updated_at)
    VALUES (?, ?, 'failed', 'fatal', 3, ?, ?, 'run-1', ?, ?, '2026-01-01T00:00:00.000Z')`);
  const range = db.prepare("INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (?, ?, 'run-1')");
  const error = JSON.stringify({
    name: 'HttpError',
    message: `GET https://api.example.com/items failed with status 404: not found`,
    stack: 'HttpError: …\n    at handler (job.ts:12:11)\n    at attempt (engine.js:40:3)',
    code: 'E404',
  });
  db.transaction(() => {
    let first = -1;
    for (let seq = 0; seq < records; seq++) {
      if (seq % failedEvery === 0) {
        if (first >= 0) range.run(first, seq - 1);
        first = -1;
        row.run(seq, `key-${seq}`, error, `fp${seq % 50}`, seq + 1, seq * 80);
      } else if (first < 0) {
        first = seq;
      }
    }
    if (first >= 0) range.run(first, records - 1);
  })();
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

function time(path) {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const db = new Database(path, { readonly: true });
    const started = process.hrtime.bigint();
    const result = db.pragma('quick_check', { simple: true });
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
    db.close();
    if (result !== 'ok') throw new Error(`quick_check: ${result}`);
  }
  return best;
}

for (const [shape, failedEvery] of [
  ['mostly succeeded (1% failed)', 100],
  ['all failed', 1],
]) {
  const path = join(dir, `${failedEvery}.sqlite`);
  build(path, failedEvery);
  const mb = statSync(path).size / 1e6;
  console.log(`${records} records, ${shape}: ledger ${mb.toFixed(1)} MB, quick_check ${time(path).toFixed(0)} ms (best of 3)`);
}
rmSync(dir, { recursive: true, force: true });
