/**
 * One run of bench/cold-run.mjs in its own process: `node [V8 flags] cold-run-worker.mjs <dist>
 * <input> <state folder>`. Writes a line `=== <n> <wall ms> <CPU ms>` to stdout when the run starts
 * (n = 0), at the first handler call, at every 1,000th and at the end (n = -1), the times counted from just before
 * `runJob()`: written synchronously, so that they fall between V8's own trace lines (--trace-opt).
 * Then `=== main <CPU ms>`: the main thread's own CPU time during the run (Linux's per-thread
 * scheduler statistics; NaN elsewhere), the rest of the process's being V8's compiler and GC.
 */
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';

const [dist, data, state] = process.argv.slice(2);
const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
let calls = 0;
let cpuBefore;
let startedAt;
const mark = (n) => {
  const cpu = process.cpuUsage(cpuBefore);
  writeSync(1, `=== ${n} ${(performance.now() - startedAt).toFixed(2)} ${((cpu.user + cpu.system) / 1000).toFixed(2)}\n`);
};
/** The main thread's CPU ms: the first field of its schedstat, nanoseconds on a CPU. */
const mainThreadCpuMs = () => {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return NaN;
  }
};
const handler = async () => {
  if (++calls % 1000 === 0 || calls === 1) mark(calls);
};
const job = benchJob({ data, handler, concurrency: 8 }, lib);
const mainBefore = mainThreadCpuMs();
cpuBefore = process.cpuUsage();
startedAt = performance.now();
mark(0);
const summary = await lib.runJob(job, { ledger: join(state, 'ledger.sqlite') });
mark(-1);
writeSync(1, `=== main ${(mainThreadCpuMs() - mainBefore).toFixed(2)}\n`);
if (summary.succeeded !== Number(summary.total)) throw new Error(`the run did not succeed: ${JSON.stringify(summary)}`);
