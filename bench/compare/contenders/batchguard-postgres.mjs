/**
 * batchguard with its PostgreSQL ledger on the local server, in a schema of its own (dropped
 * afterwards), running the job of batchguard-job.mjs with the default lease. Timed from the call
 * to runJob, so the ledger's schema creation is included, as the SQLite contender's file creation is. A restart is the same call: runJob resumes from the ledger, taking
 * the dead run's lease over at once, since the server released the advisory lock of its session
 * (docs/postgres.md, "Leases and fencing").
 */
import { basename } from 'node:path';
import pg from 'pg';
import { runJob } from '../../../dist/bundle/index.js';
import { benchJob } from './batchguard-job.mjs';

const database = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};
const ledgerUrl = `postgres://${database.user}@${database.host}:${database.port}/${database.database}`;
const schemaOf = (stateDir) =>
  `batchguard_bench_ledger_${basename(stateDir)
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()}`;

export async function run({ data, stateDir, handler, concurrency }) {
  const job = benchJob({ data, handler, concurrency });
  const summary = await runJob(job, { ledger: ledgerUrl, pgSchema: schemaOf(stateDir) });
  return { failed: summary.failed };
}

/** Drops this measurement's schema. */
export async function cleanup({ stateDir }) {
  const client = new pg.Client(database);
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schemaOf(stateDir)} CASCADE`);
  await client.end();
}
