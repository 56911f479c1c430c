/**
 * One run of bench/small-run.mjs in its own process: `node small-run-worker.mjs <dist> <input>
 * <state folder>`. Prints wall ms, CPU ms and minor page faults from just before `runJob()` to its end.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';

const [dist, data, state] = process.argv.slice(2);
const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
const job = benchJob({ data, handler: async () => {}, concurrency: 8 }, lib);
const faultsBefore = process.resourceUsage().minorPageFault;
const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
const summary = await lib.runJob(job, { ledger: join(state, 'ledger.sqlite') });
const wallMs = performance.now() - startedAt;
const cpu = process.cpuUsage(cpuBefore);
if (summary.succeeded !== Number(summary.total)) throw new Error(`the run did not succeed: ${JSON.stringify(summary)}`);
process.stdout.write(
  JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, faults: process.resourceUsage().minorPageFault - faultsBefore }),
);
