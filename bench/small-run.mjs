#!/usr/bin/env node
/**
 * The fixed cost of a run: a 10,000-record no-op job on the SQLite ledger (the job of
 * bench/compare/contenders/batchguard-job.mjs, a new ledger each time; LEDGER=postgres: on the
 * PostgreSQL ledger at BATCHGUARD_BENCH_PG, in a new schema each time, dropped after, as
 * bench/compare/contenders/batchguard-postgres.mjs runs it), timed inside a fresh process
 * from just before `runJob()` (batchguard already imported) to its end, as bench/compare.mjs times
 * it. At this size the start-up, the end and the first records (before the JIT has compiled the
 * engine) are most of the run; at 100,000 records they are a small part of it.
 * Each build runs once per round, RUNS rounds, so that all builds see the same load (other work
 * shares this machine); each figure is a median over the rounds (min in brackets). CPU time is
 * user + system of the whole process (the JIT's and the GC's threads included), which moves less
 * than wall time on a busy machine; page faults are minor faults, which a large allocation touched
 * page by page costs. The load average is printed at the start and the end.
 * Usage: npm run build && node bench/small-run.mjs   (RECORDS=100000 for another size, RUNS=21 for a
 * steadier median; COMPARE=/path/to/another/dist adds that build's row, measured in the same rounds:
 * a before/after comparison; several paths separated by commas add several builds)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInput } from './compare/input.mjs';

const RECORDS = Number(process.env.RECORDS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 11);
const LEDGER = process.env.LEDGER ?? 'sqlite';
if (LEDGER !== 'sqlite' && LEDGER !== 'postgres') throw new Error(`LEDGER=${LEDGER}: sqlite or postgres`);
const here = fileURLToPath(new URL('.', import.meta.url));
const builds = [join(here, '../dist'), ...(process.env.COMPARE ? process.env.COMPARE.split(',') : [])];
const base = mkdtempSync(join(tmpdir(), 'batchguard-small-run-'));
const input = join(base, 'input.jsonl');
await writeInput(input, RECORDS);

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
console.log(
  `${RECORDS} records, no-op handler, ${LEDGER === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ledger, ${RUNS} rounds; load average ${load()}`,
);
const results = builds.map(() => ({ wallMs: [], cpuMs: [], faults: [] }));
for (let round = 0; round < RUNS; round++) {
  builds.forEach((dist, i) => {
    const state = mkdtempSync(join(base, 'state-'));
    const out = execFileSync(process.execPath, [join(here, 'small-run-worker.mjs'), dist, input, state, LEDGER], { encoding: 'utf8' });
    rmSync(state, { recursive: true, force: true });
    const figures = JSON.parse(out);
    for (const name of ['wallMs', 'cpuMs', 'faults']) results[i][name].push(figures[name]);
  });
}
rmSync(base, { recursive: true, force: true });

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const cell = (values) => `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)})`;
console.log('| build | wall ms | records/s | CPU ms | page faults |');
console.log('|---|--:|--:|--:|--:|');
builds.forEach((dist, i) => {
  const r = results[i];
  const rate = Math.round(RECORDS / (median(r.wallMs) / 1000)).toLocaleString('en-US');
  console.log(`| ${dist} | ${cell(r.wallMs)} | ${rate} | ${cell(r.cpuMs)} | ${cell(r.faults)} |`);
});
console.log(`load average at the end: ${load()}`);
