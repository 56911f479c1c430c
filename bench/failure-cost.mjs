/**
 * CPU per record of one runJob over N JSONL records with the SQLite ledger, with the no-op or the
 * failing handler of bench/compare (5% fail once, 1% always fail, fatal), or one half of the
 * failing handler: `fatal` (its 1% only) or `retried` (its 5% only), to tell what a record failing
 * for good and a retried one cost (each against `noop`). CPU (user + system) is steadier than wall
 * time on a shared machine. Usage:
 *   node bench/failure-cost.mjs [noop|failing|fatal|retried] [records] [distDir]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';
import { bucket, handlers, PermanentError, TransientError } from './compare/handlers.mjs';
import { writeInput } from './compare/input.mjs';

const [handlerName = 'failing', countArg = '50000', distArg = 'dist'] = process.argv.slice(2);
const count = Number(countArg);
const lib = await import(pathToFileURL(resolve(distArg, 'index.js')).href);

const dir = mkdtempSync(join(tmpdir(), 'bg-failure-cost-'));
const data = join(dir, 'input.jsonl');
await writeInput(data, count);
/** The two halves of the failing handler, with the same records failing the same way. */
const halves = {
  fatal: () => async (record) => {
    if (bucket(record.id) === 99) throw new PermanentError(`record ${record.id} is invalid`);
  },
  retried: () => {
    const failedOnce = new Set();
    return async (record) => {
      if (bucket(record.id) < 5 && !failedOnce.has(record.id)) {
        failedOnce.add(record.id);
        throw new TransientError(`record ${record.id}: service unavailable`);
      }
    };
  },
};
const handler = (halves[handlerName] ?? handlers[handlerName])();
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
    records: count,
    failed: summary.failed,
    retries: summary.retries,
    cpuMs: Math.round(cpuUs / 1000),
    cpuUsPerRecord: +(cpuUs / count).toFixed(1),
    wallMs: Math.round(wallMs),
  }),
);
