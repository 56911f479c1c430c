#!/usr/bin/env node
/**
 * Where a short run's time goes while the engine's code is cold: the job of bench/small-run.mjs
 * (10,000 records, no-op handler, SQLite ledger, a new ledger each time) in a fresh process, with
 * the CPU time (all threads: V8's compiler and GC threads included) of each thousand records, so
 * that the first thousands (interpreted, then compiled) show beside the later ones (optimised).
 * Each build runs once per round under each set of V8 flags (FLAGS, sets separated by `|`; the
 * default compares V8's defaults with `--no-opt`, no optimising compiler), RUNS rounds, so that
 * all see the same load; each figure is a median over the rounds. The first column is the start of
 * the run (options, ledger, up to the first handler call), the last its end (last commit, summary,
 * closing the ledger). "main" is the main thread's share of the run's CPU (Linux only):
 * the rest is V8's compiler and garbage collector on their own threads.
 * Then one run of each build under `--trace-opt --trace-deopt --single-threaded`: the functions
 * V8's optimising compiler compiled during the run, with the time each took (on the main thread,
 * so that a compile does not wait in the background queue; wall time, which a busy machine
 * inflates), and every deoptimisation, by function and reason.
 * Usage: npm run build && node bench/cold-run.mjs   (RUNS=11, RECORDS=20000, FLAGS='|--no-opt',
 * COMPARE=/path/to/another/dist[,…] as in bench/small-run.mjs)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeInput } from './compare/input.mjs';

const RECORDS = Number(process.env.RECORDS ?? 10_000);
const RUNS = Number(process.env.RUNS ?? 7);
const FLAG_SETS = (process.env.FLAGS ?? '|--no-opt').split('|').map((set) => set.split(' ').filter(Boolean));
const here = fileURLToPath(new URL('.', import.meta.url));
const builds = [join(here, '../dist'), ...(process.env.COMPARE ? process.env.COMPARE.split(',') : [])];
const base = mkdtempSync(join(tmpdir(), 'batchguard-cold-run-'));
const input = join(base, 'input.jsonl');
await writeInput(input, RECORDS);

/** Runs the worker once; its stdout (the marks, and V8's trace lines when `flags` ask for them). */
function runOnce(dist, flags) {
  const state = mkdtempSync(join(base, 'state-'));
  try {
    const args = [...flags, join(here, 'cold-run-worker.mjs'), dist, input, state];
    return execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}

/** The marks of a run's output: [records, wall ms, CPU ms], the end as records = -1. */
const marksOf = (out) => [...out.matchAll(/^=== (-?\d+) ([\d.]+) ([\d.]+)$/gm)].map((m) => m.slice(1).map(Number));
const mainOf = (out) => Number(/^=== main (\S+)$/m.exec(out)?.[1]);

const load = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
console.log(`${RECORDS} records, no-op handler, SQLite ledger, ${RUNS} rounds; load average ${load()}`);
const variants = builds.flatMap((dist) => FLAG_SETS.map((flags) => ({ dist, flags, runs: [], main: [] })));
for (let round = 0; round < RUNS; round++) {
  for (const variant of variants) {
    const out = runOnce(variant.dist, variant.flags);
    variant.runs.push(marksOf(out));
    variant.main.push(mainOf(out));
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const thousands = Math.floor(RECORDS / 1000);
const columns = ['start', ...Array.from({ length: thousands }, (_, i) => String(i + 1)), 'end'];
console.log('\nCPU ms of each thousand records (median over the rounds), total CPU, main thread CPU and wall ms (median (min)):');
console.log(`| build | flags | ${columns.join(' | ')} | CPU | main | wall |`);
console.log(`|---|---|${columns.map(() => '--:').join('|')}|--:|--:|--:|`);
for (const { dist, flags, runs, main } of variants) {
  // Each run's marks are 0, 1, 1000, 2000, …, end: the CPU between consecutive marks.
  const steps = columns.map((_, i) => median(runs.map((marks) => marks[i + 1][2] - marks[i][2])).toFixed(1));
  const cpu = runs.map((marks) => marks.at(-1)[2]);
  const wall = runs.map((marks) => marks.at(-1)[1]);
  const cell = (values) => `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)})`;
  console.log(`| ${dist} | ${flags.join(' ') || '(none)'} | ${steps.join(' | ')} | ${cell(cpu)} | ${cell(main)} | ${cell(wall)} |`);
}

for (const dist of builds) {
  const out = runOnce(dist, ['--trace-opt', '--trace-deopt', '--single-threaded']);
  // Only what happened between the start of runJob() and its end.
  const during = out.slice(out.indexOf('=== 0 '), out.indexOf('=== -1 '));
  const compiles = [...during.matchAll(/completed compiling .*?<JSFunction (\S+).*?took ([\d.]+), ([\d.]+), ([\d.]+) ms/g)].map(
    ([, name, ...ms]) => ({ name, ms: ms.reduce((sum, value) => sum + Number(value), 0) }),
  );
  const deopts = new Map();
  for (const [, kind, reason, name] of during.matchAll(/bailout \(kind: ([^,]+), reason: ([^)]*)\).*?<JSFunction (\S+)/g)) {
    const key = `${name} (${kind}: ${reason})`;
    deopts.set(key, (deopts.get(key) ?? 0) + 1);
  }
  const total = compiles.reduce((sum, c) => sum + c.ms, 0);
  const top = [...compiles].sort((a, b) => b.ms - a.ms).slice(0, 8);
  console.log(`\n${dist}: ${compiles.length} functions optimised during the run, compiling took ${total.toFixed(1)} ms`);
  console.log(`  longest: ${top.map((c) => `${c.name} ${c.ms.toFixed(1)}`).join(', ')}`);
  const deoptList = [...deopts].map(([key, count]) => `${key} ×${count}`);
  console.log(`  deoptimisations: ${deoptList.length === 0 ? 'none' : deoptList.join('; ')}`);
}
rmSync(base, { recursive: true, force: true });
console.log(`\nload average at the end: ${load()}`);
