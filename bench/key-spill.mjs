#!/usr/bin/env node
/**
 * The key index's spills on the main thread against on a worker thread (ledger/sqlite/key-run-spiller.ts),
 * over KEYS keys (default 1M) added as a run adds them: a drain and a commit's spill check every 1,000
 * keys, runs in files as the SQLite ledger keeps them. Modes interleaved, ROUNDS rounds each (default
 * 5): ms of CPU of the main thread and of the whole process, and wall time, medians and ranges.
 * Usage: npm run build && node bench/key-spill.mjs
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyRunFiles } from '../dist/ledger/sqlite/key-runs.js';
import { KeyRunSpiller } from '../dist/ledger/sqlite/key-run-spiller.js';
import { SpillingKeyIndex } from '../dist/structures/spilling-key-index.js';

const KEYS = Number(process.env.KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const keys = Array.from({ length: KEYS }, (_, i) => String(i));

function mainCpuMs() {
  return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
}

function once(inWorker) {
  const dir = mkdtempSync(join(tmpdir(), 'batchguard-key-spill-'));
  const files = new KeyRunFiles(join(dir, 'sorted'));
  const spiller = inWorker ? new KeyRunSpiller(files) : undefined;
  const index = new SpillingKeyIndex({ store: files, ...(spiller && { spiller }) });
  index.reserve(KEYS);
  const cpu = process.cpuUsage();
  const main = mainCpuMs();
  const started = performance.now();
  for (let i = 0; i < KEYS; i++) {
    if (index.add(keys[i], i, i + 1) !== undefined) throw new Error(`false duplicate at ${i}`);
    if (i % 1000 === 999) {
      index.drain();
      index.spillWhenFull(i);
    }
  }
  index.drain();
  index.spillWhenFull(KEYS);
  index.settle(true);
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const result = { wallMs, cpuMs: (used.user + used.system) / 1000, mainMs: mainCpuMs() - main, runs: index.runRecords.length };
  index.close();
  files.close();
  rmSync(dir, { recursive: true, force: true });
  return result;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const show = (values) => `${median(values).toFixed(0)} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');

console.log(`${KEYS.toLocaleString('en-US')} keys, ${ROUNDS} rounds each, interleaved; load ${load()}`);
once(false);
once(true);
const results = { main: [], worker: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of round % 2 === 0 ? ['main', 'worker'] : ['worker', 'main']) results[mode].push(once(mode === 'worker'));
}
for (const [mode, rs] of Object.entries(results)) {
  console.log(
    `spills on the ${mode === 'main' ? 'main thread' : 'worker'}: main thread CPU ${show(rs.map((r) => r.mainMs))} ms, ` +
      `process CPU ${show(rs.map((r) => r.cpuMs))} ms, wall ${show(rs.map((r) => r.wallMs))} ms, runs ${rs[0].runs}`,
  );
}
console.log(`load after ${load()}`);
