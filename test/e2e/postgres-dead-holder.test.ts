/**
 * A PostgreSQL ledger's run lease whose holder's session ended is taken over at once, not at its
 * expiry (src/ledger/postgres/holder-session.ts), with real processes: a SIGKILLed run is resumed
 * with a lease of 60 s long before that lease expires; a run whose lock session the server ended
 * while it lives on is taken over at once too, and then writes nothing more (fencing). Every record
 * ends with one outcome. (A SIGSTOPped holder keeps its session: postgres-lease-takeover.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { spawnCli, within, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { killLeftovers } from '../helpers/pg-stop.js';
import { expectOneOutcomeEach } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3000;
/** Far longer than a takeover at once takes, even on a loaded machine. */
const LEASE_MS = 60_000;
const PROGRESS_WITHIN_MS = 90_000;

describePg('a PostgreSQL run lease whose holder session ended', () => {
  const pool = pgPool();

  function writeJob(dir: string, handlerMs: number): void {
    writeJsonl(dir, 'records.jsonl', RECORDS);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'pg-dead-holder',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  checkpoint: { everyRecords: 50, everyMs: 100 },
  handler: async () => { await new Promise((resolve) => setTimeout(resolve, ${handlerMs})); },
});
`,
    );
  }

  async function withLedger<T>(schema: string, read: (ledger: Ledger) => Promise<T>): Promise<T> {
    const { ledger } = openLedger(PG_URL, { job: 'pg-dead-holder', pgSchema: schema });
    try {
      return await read(ledger);
    } finally {
      await ledger.close();
    }
  }

  async function firstCommit(schema: string): Promise<void> {
    const started = Date.now();
    while ((await withLedger(schema, async (ledger) => (await ledger.counts()).succeeded).catch(() => 0)) === 0) {
      if (Date.now() - started > PROGRESS_WITHIN_MS) throw new Error(`no commit in ${PROGRESS_WITHIN_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const run = (dir: string, schema: string): ReturnType<typeof spawnCli> =>
    spawnCli(['run', 'job.mjs', '--ledger', PG_URL, '--pg-schema', schema, '--no-worker', '--lease', `${LEASE_MS / 1000}s`, '--json'], {
      cwd: dir,
    });

  it('a SIGKILLed run is resumed at once, long before its lease expires', async () => {
    const dir = tempDir();
    writeJob(dir, 1);
    const schema = freshSchema('bg_e2e_pg_dead');
    const killed = run(dir, schema);
    let resumed: ReturnType<typeof spawnCli> | undefined;
    try {
      await firstCommit(schema);
      killed.kill('SIGKILL');
      await killed.result;
      // The dead run's lease, still in force: without the lock it would be waited for until then.
      const dead = await withLedger(schema, (ledger) => ledger.holder());
      expect(dead).toBeDefined();
      resumed = run(dir, schema);
      const done = await within(resumed.result, PROGRESS_WITHIN_MS, 'the resumed run');
      expect(done.stderr).toMatch(
        new RegExp(`^batchguard: resuming: \\d+ records? already done \\(run ${dead?.runId} had died without finishing\\);`),
      );
      expect(done.code).toBe(0);
      expect(JSON.parse(done.stdout)).toMatchObject({ status: 'completed', total: RECORDS, failed: 0 });
      await withLedger(schema, async (ledger) => {
        const runs = await ledger.runs(10);
        const next = runs.find((r) => r.status === 'completed');
        // The ledger's order of events: the resumed run started and ended before the dead lease expired.
        expect(Date.parse(next?.endedAt ?? '')).toBeLessThan(Date.parse(dead?.expiresAt ?? ''));
        expect(runs.map((r) => r.status).sort()).toEqual(['completed', 'crashed']);
        await expectOneOutcomeEach(ledger, RECORDS);
      });
    } finally {
      killLeftovers([killed, resumed]);
    }
  }, 240_000);

  it('a live run whose lock session the server ended is taken over at once and then writes nothing more', async () => {
    const dir = tempDir();
    // Slow enough (about 7 s of work) that the holder is still running when the taker comes.
    writeJob(dir, 10);
    const schema = freshSchema('bg_e2e_pg_dead');
    const holder = run(dir, schema);
    let taker: ReturnType<typeof spawnCli> | undefined;
    try {
      await firstCommit(schema);
      const lease = await withLedger(schema, (ledger) => ledger.holder());
      // The session holding the lease's advisory lock (its key as sql/session-lock.ts makes it).
      const ended = await pool.query<{ ended: boolean }>(
        `WITH k AS (SELECT hashtextextended('batchguard run lease ' || $1 || ' ' || j.job_id || ' ' || $2, 0) AS key
                      FROM "${schema}".jobs j WHERE j.name = 'pg-dead-holder')
         SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l, k
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid::text::int8 = ((k.key >> 32) & 4294967295) AND l.objid::text::int8 = (k.key & 4294967295)`,
        [schema, lease?.token],
      );
      expect(ended.rows).toEqual([{ ended: true }]);
      taker = run(dir, schema);
      const took = await within(taker.result, PROGRESS_WITHIN_MS, 'the taker');
      expect(took.code).toBe(0);
      expect(JSON.parse(took.stdout)).toMatchObject({ status: 'completed', total: RECORDS, failed: 0 });
      const lost = await within(holder.result, PROGRESS_WITHIN_MS, 'the run taken over');
      expect(lost.code).toBe(4);
      expect(lost.stderr).toContain(`this run (${lease?.runId}, token ${lease?.token}) lost its lease`);
      expect(lost.stderr).not.toContain('This is a bug');
      await withLedger(schema, async (ledger) => {
        const runs = await ledger.runs(10);
        const next = runs.find((r) => r.status === 'completed');
        expect(Date.parse(next?.endedAt ?? '')).toBeLessThan(Date.parse(lease?.expiresAt ?? ''));
        await expectOneOutcomeEach(ledger, RECORDS);
      });
    } finally {
      killLeftovers([holder, taker]);
    }
  }, 240_000);
});
