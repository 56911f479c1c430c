/**
 * CPU per statement group of the SQLite outcome writer (src/ledger/sqlite/outcome-writer.ts) on the
 * commits of bench/compare's failing handler: 1,000 records a commit, 1% failing for good (one row
 * each, error and history as JSON), 5% retried, half of those succeeding in the next commit (so a
 * commit has ~60 ranges of first-time successes instead of one). The writer alone, on a WAL file,
 * without the engine: what each range and each failed row costs. Usage:
 *   node bench/outcome-writer.mjs [records] [distDir] [rounds]
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [countArg = '200000', distArg = 'dist', roundsArg = '5'] = process.argv.slice(2);
const count = Number(countArg);
const load = (path) => import(pathToFileURL(resolve(distArg, path)).href);
const { OutcomeWriter } = await load('ledger/sqlite/outcome-writer.js');
const { SCHEMA_SQL } = await load('ledger/sqlite/schema.js');
const { toRanges } = await load('engine/checkpointer.js');

/** The same spread as bench/compare/handlers.mjs. */
const bucket = (id) => (Math.imul(id, 2654435761) >>> 0) % 100;
const error = {
  name: 'PermanentError',
  message: 'record 1 is invalid',
  stack: 'PermanentError: record 1 is invalid\n    at file:///work/bench/compare/handlers.mjs:31:35',
};

/** The commits of one run: the ranges and rows each one writes. */
function commits() {
  const out = [];
  let carried = [];
  for (let first = 0; first < count; first += 1000) {
    const seqs = carried;
    const rows = [];
    carried = [];
    for (let seq = first; seq < first + 1000; seq++) {
      const b = bucket(seq);
      if (b === 99) {
        rows.push({
          ...{ seq, key: String(seq), status: 'failed', kind: 'fatal', attempts: 1, error, fingerprint: 'abcdefabcdef' },
          ...{ template: 'record <n> is invalid', rule: 'classify-hook', history: [{ attempt: 1, durationMs: 0, error }] },
          ...{ runId: 'run-1', line: seq + 1, offset: seq * 100, updatedAt: '2026-12-01T00:00:00.000Z' },
        });
      } else if (b < 5 && seq % 1000 >= 500) carried.push(seq);
      else seqs.push(seq);
    }
    out.push({ ranges: toRanges(seqs), rows });
  }
  return out;
}

const batches = commits();
const ranges = batches.reduce((n, c) => n + c.ranges.length, 0);
const rows = batches.reduce((n, c) => n + c.rows.length, 0);
const perRange = [];
const perRow = [];
for (let round = 0; round < Number(roundsArg); round++) {
  const dir = mkdtempSync(join(tmpdir(), 'bg-outcome-writer-'));
  const db = new Database(join(dir, 'ledger.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA_SQL);
  const writer = new OutcomeWriter(db);
  let rangeUs = 0;
  let rowUs = 0;
  const commit = db.transaction((batch) => {
    let start = process.cpuUsage();
    for (const range of batch.ranges) writer.writeRange(range, 'run-1');
    let spent = process.cpuUsage(start);
    rangeUs += spent.user + spent.system;
    start = process.cpuUsage();
    for (const row of batch.rows) writer.writeRow(row);
    spent = process.cpuUsage(start);
    rowUs += spent.user + spent.system;
  });
  for (const batch of batches) commit.immediate(batch);
  db.close();
  rmSync(dir, { recursive: true, force: true });
  perRange.push(rangeUs / ranges);
  perRow.push(rowUs / rows);
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(
  JSON.stringify({
    records: count,
    commits: batches.length,
    ranges,
    rows,
    cpuUsPerRange: +median(perRange).toFixed(2),
    cpuUsPerRow: +median(perRow).toFixed(2),
    rounds: perRange.length,
  }),
);
