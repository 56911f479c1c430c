/**
 * What storing a failed record's error costs (engine/stored-error.ts `safeSerialize`: the walk of
 * its cause chain, its stack formatted by V8, batchguard's frames dropped, the text cut and
 * redacted), at the density of the failing handler of bench/compare: COUNT errors (default 1,000)
 * serialised once each in a fresh process, so that the code runs as it does for a run's 1% of
 * fatal failures (mostly interpreted: docs/benchmarks.md). The errors are real: thrown by a job's
 * handler at its first attempt (from the engine's stack) and retried, so that the run itself never
 * serialises them (a retry that succeeds stores nothing). Prints CPU µs per error.
 * Usage: npm run build && node bench/serialize-cost.mjs [distDir] [count]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';
import { TransientError } from './compare/handlers.mjs';
import { writeInput } from './compare/input.mjs';

const [distArg = 'dist', countArg = '1000'] = process.argv.slice(2);
const count = Number(countArg);
const dist = resolve(distArg);
const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
const { safeSerialize } = await import(pathToFileURL(join(dist, 'engine', 'stored-error.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'bg-serialize-cost-'));
const data = join(dir, 'input.jsonl');
await writeInput(data, count * 10);
const errors = [];
const handler = async (record) => {
  if (record.id % 10 === 0 && errors.length < count && !record.retried) {
    record.retried = true;
    const error = new TransientError(`record ${record.id}: service unavailable`, { cause: new Error('connect ECONNREFUSED') });
    errors.push(error);
    throw error;
  }
};
await lib.runJob(benchJob({ data, handler, concurrency: 8 }, lib), { ledger: join(dir, 'ledger.sqlite') });
rmSync(dir, { recursive: true, force: true });

const before = process.cpuUsage();
let chars = 0;
for (const error of errors) chars += (safeSerialize(error).stack ?? '').length;
const cpu = process.cpuUsage(before);
console.log(
  JSON.stringify({
    errors: errors.length,
    cpuUsPerError: +((cpu.user + cpu.system) / errors.length).toFixed(1),
    storedStackChars: chars / errors.length,
  }),
);
