/**
 * CPU per record of one runJob over N JSONL records with the SQLite ledger, with the no-op or the
 * failing handler of bench/compare (5% fail once, 1% always fail, fatal), or one half of the
 * failing handler: `fatal` (its 1% only) or `retried` (its 5% only), to tell what a record failing
 * for good and a retried one cost (each against `noop`). CPU (user + system) is steadier than wall
 * time on a shared machine. `percent` changes the share of records a half fails (1 for `fatal`, 5
 * for `retried` by default, as in the failing handler): what a failure costs depends on how many
 * there are (docs/benchmarks.md). Usage:
 *   node bench/failure-cost.mjs [noop|failing|fatal|retried] [records] [distDir] [percent]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';
import { bucket, handlers, PermanentError, TransientError } from './compare/handlers.mjs';
import { writeInput } from './compare/input.mjs';

const [handlerName = 'failing', countArg = '50000', distArg = 'dist', percentArg] = process.argv.slice(2);
const count = Number(countArg);
const lib = await import(pathToFileURL(resolve(distArg, 'index.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'bg-failure-cost-'));
const data = join(dir, 'input.jsonl');
await writeInput(data, count);
/** The two halves of the failing handler, with the same records failing the same way (at the default percent). */
const halves = {
  fatal:
    (percent = 1) =>
    async (record) => {
      if (bucket(record.id) >= 100 - percent) throw new PermanentError(`record ${record.id} is invalid`);
    },
  retried: (percent = 5) => {
    const failedOnce = new Set();
    return async (record) => {
      if (bucket(record.id) < percent && !failedOnce.has(record.id)) {
        failedOnce.add(record.id);
        throw new TransientError(`record ${record.id}: service unavailable`);
      }
    };
  },
};
const handler = (halves[handlerName] ?? handlers[handlerName])(percentArg === undefined ? undefined : Number(percentArg));
const job = benchJob({ data, handler, concurrency: 8 }, lib);
const before = process.cpuUsage();
const started = performance.now();
const summary = await lib.runJob(job, { ledger: join(dir, 'ledger.sqlite') });
const cpu = process.cpuUsage(before);
const wallMs = performance.now() - started;
rmSync(dir, { recursive: true, force: true });
const cpuUs = cpu.user + cpu.system;
console.log(
  JSON.stringify({
    handler: handlerName,
    ...(percentArg === undefined ? {} : { percent: Number(percentArg) }),
    records: count,
    failed: summary.failed,
    retries: summary.retries,
    cpuMs: Math.round(cpuUs / 1000),
    cpuUsPerRecord: +(cpuUs / count).toFixed(1),
    wallMs: Math.round(wallMs),
  }),
);
