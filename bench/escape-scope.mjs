#!/usr/bin/env node
/**
 * What attributing escaped errors to their record costs: records/s of a run over N JSONL records
 * with a no-op handler, with the per-attempt async scope (the default) and without it
 * (`attributeEscapes: false`), and the same with a handler that waits for one timer tick, which is
 * still far cheaper than any real I/O. Each figure is the best of REPEAT runs, each in its own process.
 * Usage: npm run bench:escapes   (RECORDS=100000 REPEAT=2 for a quicker look)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RECORDS = Number(process.env.RECORDS ?? 300_000);
const REPEAT = Number(process.env.REPEAT ?? 3);
const [role, mode, handlerKind, data, ledger] = process.argv.slice(2);

if (role === 'worker') {
  const { defineJob, jsonl, runJob } = await import('../dist/index.js');
  const handler = handlerKind === 'tick' ? () => new Promise((resolve) => setImmediate(resolve)) : async () => {};
  const job = defineJob({
    name: 'bench-escapes',
    source: jsonl(data),
    key: (r) => String(r.id),
    handler,
    concurrency: 16,
    maxFailureRate: 1,
  });
  const started = performance.now();
  const summary = await runJob(job, { ledger, attributeEscapes: mode === 'on' });
  console.log(JSON.stringify({ recordsPerSecond: summary.succeeded / ((performance.now() - started) / 1000) }));
} else {
  const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-escapes-'));
  try {
    const path = join(dir, 'records.jsonl');
    const lines = [];
    for (let i = 0; i < RECORDS; i++) lines.push(`{"id":${i},"name":"city-${i}"}`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    const best = {};
    // Interleaved, so that whatever else loads the machine weighs on both alike.
    for (let round = 0; round < REPEAT; round++) {
      for (const handlerName of ['no-op', 'tick']) {
        for (const scope of ['on', 'off']) {
          const ledgerPath = join(dir, `l-${round}-${handlerName}-${scope}.sqlite`);
          const output = execFileSync(
            process.execPath,
            [new URL(import.meta.url).pathname, 'worker', scope, handlerName === 'tick' ? 'tick' : 'noop', path, ledgerPath],
            { encoding: 'utf8' },
          );
          const { recordsPerSecond } = JSON.parse(output.trim().split('\n').pop());
          const key = `${handlerName} ${scope}`;
          best[key] = Math.max(best[key] ?? 0, recordsPerSecond);
        }
      }
    }
    const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(9);
    console.log(`records: ${RECORDS.toLocaleString('en-US')}, concurrency 16, best of ${REPEAT} runs each`);
    for (const handlerName of ['no-op', 'tick']) {
      const on = best[`${handlerName} on`];
      const off = best[`${handlerName} off`];
      console.log(
        `${handlerName.padEnd(6)} handler: scope on ${fmt(on)} records/s, off ${fmt(off)} records/s, cost ${((1 - on / off) * 100).toFixed(0)}%`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
