/**
 * The run lease of the PostgreSQL ledger with real processes: a run SIGSTOPped inside one of its
 * write transactions holds the share lock on its lease row, which a taker's update of that row
 * waits for. The server ends the stopped run's session once it sat idle in its transaction for a
 * lease time, so the taker takes over after about two lease times; continued, the stopped run
 * stops with exit 4, its lease lost, writing nothing more. Every record ends with one outcome.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { spawnCli, within, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { idleInTransaction, killLeftovers, stopAt, type SessionsOf } from '../helpers/pg-stop.js';
import { expectOneOutcomeEach } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3000;
/** Long enough that a run starved of CPU by a loaded machine still renews in time, short enough to wait out. */
const LEASE = '3s';
/** The bound on every wait for a run's progress: generous for a loaded machine, never for ever. */
const PROGRESS_WITHIN_MS = 90_000;

describePg('the PostgreSQL ledger lease with real processes', () => {
  const pool = pgPool();

  function writeJob(dir: string): void {
    writeJsonl(dir, 'records.jsonl', RECORDS);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
export default defineJob({
  name: 'pg-lease',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  // Many small commits: many moments inside a transaction to stop the run at. A plain commit is
  // one statement that fences itself (no transaction to stop inside); with an output, each commit
  // first checks the lease in a transaction (Ledger.assertHeld) before it writes the results.
  checkpoint: { everyRecords: 50, everyMs: 100 },
  output: jsonlOutput(${JSON.stringify(join(dir, 'out.jsonl'))}),
  handler: async (r) => { await new Promise((resolve) => setTimeout(resolve, 1)); return { id: r.id }; },
});
`,
    );
  }

  async function withLedger<T>(schema: string, read: (ledger: Ledger) => Promise<T>): Promise<T> {
    const { ledger } = openLedger(PG_URL, { job: 'pg-lease', pgSchema: schema });
    try {
      return await read(ledger);
    } finally {
      await ledger.close();
    }
  }

  const succeeded = (schema: string): Promise<number> =>
    withLedger(schema, async (ledger) => (await ledger.counts()).succeeded).catch(() => 0);

  it('a run SIGSTOPped inside a commit is taken over once the server ended its session; continued, it exits 4 and writes nothing', async () => {
    const dir = tempDir();
    writeJob(dir);
    const schema = freshSchema('bg_e2e_pg_lease');
    const sessions: SessionsOf = { pool, applicationName: 'batchguard', schema };
    const run = (): ReturnType<typeof spawnCli> =>
      // One process: the run lease is a single-process run's (workers lease chunks: workers.test.ts).
      spawnCli(['run', 'job.mjs', '--ledger', PG_URL, '--pg-schema', schema, '--lease', LEASE, '--json', '--no-worker'], { cwd: dir });
    const stopped = run();
    let taker: ReturnType<typeof spawnCli> | undefined;
    try {
      const started = Date.now();
      while ((await succeeded(schema)) === 0) {
        if (Date.now() - started > PROGRESS_WITHIN_MS) throw new Error(`no commit in ${PROGRESS_WITHIN_MS} ms`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const stoppedRun = await withLedger(schema, async (ledger) => (await ledger.holder())?.runId);
      const restops = await stopAt(stopped, sessions, true, PROGRESS_WITHIN_MS);
      taker = run();
      const took = await within(taker.result, 2 * PROGRESS_WITHIN_MS, 'the taker');
      // After a line saying it waits for the lease, if it looked before the server ended the session.
      expect(took.stderr).toMatch(
        new RegExp(`^batchguard: resuming: \\d+ records? already done \\(run ${stoppedRun} had died without finishing\\);`, 'm'),
      );
      expect(took.code).toBe(0);
      expect(JSON.parse(took.stdout)).toMatchObject({ status: 'completed', total: RECORDS, failed: 0 });
      // The taker could only take the lease once the server had ended the stopped run's session.
      expect(await idleInTransaction(sessions)).toBe(0);
      const before = await withLedger(schema, async (ledger) => ({ counts: await ledger.counts(), runs: await ledger.runs(10) }));
      stopped.kill('SIGCONT');
      const woken = await within(stopped.result, PROGRESS_WITHIN_MS, 'the continued run');
      expect(woken.code).toBe(4);
      expect(woken.stderr).toContain(`this run (${stoppedRun}, token 1) lost its lease`);
      expect(woken.stderr).toContain('stopped without writing anything more');
      expect(woken.stderr).not.toContain('This is a bug');
      await withLedger(schema, async (ledger) => {
        expect({ counts: await ledger.counts(), runs: await ledger.runs(10) }).toEqual(before);
        expect(before.runs.map((r) => r.status).sort()).toEqual(['completed', 'crashed']);
        await expectOneOutcomeEach(ledger, RECORDS);
      });
      console.log(`pg lease e2e: stopped inside a commit after ${restops} stops undone; taken over, the woken run exited 4`);
    } finally {
      killLeftovers([stopped, taker]);
    }
  }, 240_000);
});
