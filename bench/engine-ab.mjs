#!/usr/bin/env node
/**
 * Two builds of batchguard, interleaved (A, B, A, B, …), on bench/engine-throughput-worker.mjs's
 * `batchguard` run (no-op handler, SQLite ledger, duplicate keys checked): for each, the medians and
 * ranges of records/s, µs of CPU a record (the whole process: every thread) and of the main thread
 * alone, and peak RSS, with the load average before and after. Each build runs its own copy of the
 * worker script (its bench/ beside its dist/).
 * Usage: COMPARE=/tmp/old-tree [RECORDS=1000000] [ROUNDS=6] node bench/engine-ab.mjs
 * COUNT=instructions: each run under `valgrind --tool=callgrind` with `node --single-threaded` (the
 * compiler and the collector on the main thread, no thread racing another), which adds the
 * instructions executed a record (start-up included) to the figures. Wall time on this shared
 * machine moves by 30% from one minute to the next; this count moved by ~1% between runs of one
 * build (100,000 records, ~40 s a run), so a change of a few percent shows. RECORDS=100000 ROUNDS=2.
 *   (the old tree: git worktree add /tmp/old-tree <commit>, cp -al node_modules, npm run build,
 *   and this tree's bench/engine-throughput-worker.mjs copied into it for the main thread's CPU)
 */
import { spawnSync } from 'node:child_process';
import { writeEngineInput } from './engine-input.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 6);
const COUNTING = process.env.COUNT === 'instructions';
const here = join(dirname(fileURLToPath(import.meta.url)), '..');
const builds = { A: process.env.COMPARE, B: here };
if (!builds.A) throw new Error('COMPARE=<the other build tree> is needed');
const dir = mkdtempSync(join(tmpdir(), 'batchguard-ab-'));
const data = join(dir, 'records.jsonl');

function run(tree) {
  const ledger = join(dir, 'ledger.sqlite');
  for (const suffix of ['', '-wal', '-shm', '.keys', '.keys.sorted', '.runs', '.lock'])
    rmSync(`${ledger}${suffix}`, { recursive: true, force: true });
  const script = [join(tree, 'bench/engine-throughput-worker.mjs'), 'batchguard', data, ledger];
  const [command, args] = COUNTING
    ? ['valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', ...script]]
    : [process.execPath, script];
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (child.status !== 0) throw new Error(`${command} exited with ${child.status ?? child.signal}: ${child.stderr.slice(-2000)}`);
  const result = JSON.parse(child.stdout.trim().split('\n').pop());
  if (COUNTING) {
    const collected = /Collected : (\d+)/.exec(child.stderr);
    if (!collected) throw new Error(`callgrind printed no instruction count: ${child.stderr.slice(-2000)}`);
    result.instructions = Number(collected[1]);
  }
  return result;
}

/** ` N instructions a record,` under COUNT=instructions. */
const instructions = (r) => (COUNTING ? ` ${Math.round(r.instructions / RECORDS).toLocaleString('en-US')} instructions a record,` : '');
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const range = (values, digits) =>
  `${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)})`;

try {
  await writeEngineInput(data, RECORDS);
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ');
  console.log(`records ${RECORDS.toLocaleString('en-US')}, ${ROUNDS} rounds A, B interleaved; load before ${load()}`);
  const results = { A: [], B: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of round % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
      const r = run(builds[name]);
      results[name].push(r);
      console.log(
        `round ${round + 1} ${name}: ${Math.round(r.recordsPerSecond)} records/s, ${((r.cpuMs * 1000) / RECORDS).toFixed(2)} µs CPU a record, main thread ${((r.mainCpuMs * 1000) / RECORDS).toFixed(2)},${instructions(r)} wall ${((RECORDS / r.recordsPerSecond) * 1000).toFixed(0)} ms, RSS ${(r.maxRssBytes / 2 ** 20).toFixed(0)} MB, load ${load()}`,
      );
    }
  }
  for (const name of ['A', 'B']) {
    const rs = results[name];
    console.log(
      `${name} ${builds[name]}: records/s ${range(
        rs.map((r) => r.recordsPerSecond),
        0,
      )}; µs CPU a record ${range(
        rs.map((r) => (r.cpuMs * 1000) / RECORDS),
        2,
      )}, ` +
        `main thread ${range(
          rs.map((r) => (r.mainCpuMs * 1000) / RECORDS),
          2,
        )};${
          COUNTING
            ? ` instructions a record ${range(
                rs.map((r) => r.instructions / RECORDS),
                0,
              )};`
            : ''
        } wall ms ${range(
          rs.map((r) => (RECORDS / r.recordsPerSecond) * 1000),
          0,
        )}; peak RSS MB ${range(
          rs.map((r) => r.maxRssBytes / 2 ** 20),
          0,
        )}`,
    );
  }
  console.log(`load after ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
