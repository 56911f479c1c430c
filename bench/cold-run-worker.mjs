/**
 * One run of bench/cold-run.mjs in its own process: `node [V8 flags] cold-run-worker.mjs <dist>
 * <input> <state folder>`. Writes a line `=== <n> <wall ms> <CPU ms>` to stdout when the run starts
 * (n = 0), at the first handler call, at every 1,000th and at the end (n = -1), the times counted from just before
 * `runJob()`: written synchronously, so that they fall between V8's own trace lines (--trace-opt).
 * Then `=== main <CPU ms>`: the main thread's own CPU time during the run (Linux's per-thread
 * counters, in 10 ms ticks; NaN elsewhere), the rest of the process's being V8's compiler and GC.
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
/** The main thread's user + system CPU ms (fields 14 and 15 of its stat, after the name in brackets). */
const mainThreadCpuMs = () => {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
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
writeSync(1, `=== main ${mainThreadCpuMs() - mainBefore}\n`);
if (summary.succeeded !== Number(summary.total)) throw new Error(`the run did not succeed: ${JSON.stringify(summary)}`);
