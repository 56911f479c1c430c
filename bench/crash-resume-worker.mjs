/**
 * One run of bench/crash-resume.mjs, in its own process (the bench SIGKILLs it): concurrency 64, a
 * 50 ms handler. Prints one JSON line with the run's figures when it ends by itself.
 */
import { defineJob, jsonl, runJob } from '../dist/index.js';

const [data, ledger] = process.argv.slice(2);
const handlerMs = Number(process.env.HANDLER_MS ?? 50);
const job = defineJob({
  name: 'crash-resume',
  source: jsonl(data),
  key: (r) => String(r.id),
  concurrency: Number(process.env.CONCURRENCY ?? 64),
  handler: () => new Promise((resolve) => setTimeout(resolve, handlerMs)),
});
const started = performance.now();
// A resume takes over the killed run's lease at once instead of waiting for it to expire (a
// separate cost, the lease expiry, not what this bench measures).
const summary = await runJob(job, { ledger, takeOver: true });
const finished = summary.thisRun.succeeded + summary.thisRun.failed + summary.thisRun.skipped;
console.log(JSON.stringify({ finished, failed: summary.failed, recordsPerSecond: finished / ((performance.now() - started) / 1000) }));
