/**
 * pg-boss on the local PostgreSQL, in a schema of its own (dropped afterwards): one job per
 * record, inserted in bulk (1000 a call); CONCURRENCY fetch loops, each taking 100 jobs at a time,
 * calling the handler on each, then completing the successes in one call and failing the
 * transient failures (retried up to 2 times, at once: pg-boss counts retry delays in whole
 * seconds); a fatal failure is completed with its error as output, since pg-boss has no
 * "do not retry" error. Timed from the first insert to the last job done. A restart starts the loops
 * again; jobs the dead process had fetched stay active until they expire (15 minutes by default).
 */
import { basename } from 'node:path';
import PgBoss from 'pg-boss';
import pg from 'pg';
import { readLines } from '../input.mjs';

const NAME = 'records';
const BATCH = 100;
const database = {
  host: process.env.PGHOST ?? '127.0.0.1',
  port: Number(process.env.PGPORT ?? 5432),
  database: process.env.PGDATABASE ?? 'test',
  user: process.env.PGUSER ?? 'postgres',
};
const schemaOf = (stateDir) =>
  `batchguard_bench_${basename(stateDir)
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()}`;

export async function run({ data, count, stateDir, handler, concurrency, resume, startClock }) {
  const schema = schemaOf(stateDir);
  const boss = new PgBoss({ ...database, schema, max: concurrency + 2, schedule: false });
  boss.on('error', () => {});
  await boss.start();
  if (!resume) await boss.createQueue(NAME, { name: NAME, retryLimit: 2, retryDelay: 0 });
  startClock();
  if (!resume) {
    let batch = [];
    for await (const line of readLines(data)) {
      batch.push({ name: NAME, data: JSON.parse(line) });
      if (batch.length === 1000) {
        await boss.insert(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await boss.insert(batch);
  }
  let finished = 0;
  let busy = 0;
  const loop = async () => {
    for (;;) {
      if (!resume && finished >= count) return;
      busy++;
      const jobs = await boss.fetch(NAME, { batchSize: BATCH });
      if (jobs.length === 0) {
        busy--;
        // Nothing to fetch: the others may still fail jobs back into the queue, so stop only when
        // no loop is busy and nothing is left before the active state.
        if (busy === 0 && (await boss.getQueueSize(NAME, { before: 'active' })) === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      const succeeded = [];
      const retry = [];
      for (const job of jobs) {
        try {
          await handler(job.data);
          succeeded.push(job.id);
          finished++;
        } catch (error) {
          if (error?.fatal) {
            await boss.complete(NAME, job.id, { failed: true, error: String(error.message) });
            finished++;
          } else {
            retry.push(job.id);
          }
        }
      }
      if (succeeded.length > 0) await boss.complete(NAME, succeeded);
      if (retry.length > 0) await boss.fail(NAME, retry);
      busy--;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  let stuck = [];
  if (resume) {
    const { rows } = await boss
      .getDb()
      .executeSql(`SELECT (data->>'id')::int AS id FROM ${schema}.job WHERE name = $1 AND state = 'active'`, [NAME]);
    stuck = rows.map((row) => row.id);
  }
  await boss.stop({ graceful: false, wait: false });
  return { stuck };
}

/** Drops this measurement's schema. */
export async function cleanup({ stateDir }) {
  const client = new pg.Client(database);
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${schemaOf(stateDir)} CASCADE`);
  await client.end();
}
