#!/usr/bin/env node
/**
 * What durable steps cost: records/s of a run over N JSONL records (SQLite ledger file, concurrency
 * 16) whose handler does 0, 1 or 2 `ctx.step` calls of no-op work, and the time per step that
 * works out to. Each step completed is one immediate SQLite write (a small fenced transaction); the
 * first step of an attempt also reads the record's stored steps. Best of REPEAT runs, each in its
 * own process, interleaved.
 * Usage: npm run bench:steps   (RECORDS=20000 REPEAT=3 by default)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RECORDS = Number(process.env.RECORDS ?? 20_000);
const REPEAT = Number(process.env.REPEAT ?? 3);
const [role, steps, data, ledger] = process.argv.slice(2);

if (role === 'worker') {
  const { defineJob, jsonl, runJob } = await import('../dist/index.js');
  const count = Number(steps);
  const job = defineJob({
    name: 'bench-steps',
    source: jsonl(data),
    key: (r) => String(r.id),
    concurrency: 16,
    maxFailureRate: 0,
    handler: async (r, ctx) => {
      let last;
      for (let i = 0; i < count; i++) last = await ctx.step(`step-${i}`, () => r.id + i);
      return last;
    },
  });
  const started = performance.now();
  const summary = await runJob(job, { ledger });
  console.log(JSON.stringify({ recordsPerSecond: summary.succeeded / ((performance.now() - started) / 1000) }));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-steps-'));
  try {
    const path = join(dir, 'records.jsonl');
    const lines = [];
    for (let i = 0; i < RECORDS; i++) lines.push(`{"id":${i}}`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const best = {};
    for (let round = 0; round < REPEAT; round++) {
      for (const count of [0, 1, 2]) {
        const ledgerPath = join(dir, `l-${count}-${round}.sqlite`);
        const out = execFileSync(process.execPath, [import.meta.filename, 'worker', String(count), path, ledgerPath], { encoding: 'utf8' });
        const { recordsPerSecond } = JSON.parse(out.trim().split('\n').pop());
        best[count] = Math.max(best[count] ?? 0, recordsPerSecond);
      }
    }
    console.log(`durable steps, ${RECORDS} records, concurrency 16, SQLite ledger file, best of ${REPEAT}:`);
    for (const count of [0, 1, 2]) {
      const perRecordUs = 1e6 / best[count];
      const extraUs = count === 0 ? 0 : (perRecordUs - 1e6 / best[0]) / count;
      console.log(
        `  ${count} step(s) a record: ${Math.round(best[count]).toLocaleString('en')} records/s` +
          (count === 0 ? '' : `  (~${Math.round(extraUs)} µs per step)`),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
