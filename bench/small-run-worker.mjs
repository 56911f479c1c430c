/**
 * One run of bench/small-run.mjs in its own process: `node small-run-worker.mjs <dist> <input>
 * <state folder> [sqlite|postgres]`. Prints wall ms, CPU ms and minor page faults from just before
 * `runJob()` to its end. On PostgreSQL the ledger is a new schema named after the state folder,
 * dropped after the measurement.
 */
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchJob } from './compare/contenders/batchguard-job.mjs';

const [dist, data, state, kind = 'sqlite'] = process.argv.slice(2);
const PG_URL = process.env.BATCHGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const pgSchema = `batchguard_small_run_${basename(state)
  .replace(/[^a-z0-9]/gi, '_')
  .toLowerCase()}`;
const ledger = kind === 'postgres' ? { ledger: PG_URL, pgSchema } : { ledger: join(state, 'ledger.sqlite') };
const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
const job = benchJob({ data, handler: async () => {}, concurrency: 8 }, lib);
const faultsBefore = process.resourceUsage().minorPageFault;
const cpuBefore = process.cpuUsage();
const startedAt = performance.now();
const summary = await lib.runJob(job, ledger);
const wallMs = performance.now() - startedAt;
const cpu = process.cpuUsage(cpuBefore);
if (kind === 'postgres') {
  // Imported only now: loaded before the run, pg would be in the module cache when batchguard loads it.
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
  await client.end();
}
if (summary.succeeded !== Number(summary.total)) throw new Error(`the run did not succeed: ${JSON.stringify(summary)}`);
process.stdout.write(
  JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, faults: process.resourceUsage().minorPageFault - faultsBefore }),
);
