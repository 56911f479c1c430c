/**
 * `status`, `runs` and the dashboard's reading of "what is running" after a SIGKILL: a run whose
 * process is gone is not shown as active until its lease expires. Its lease is still in force, but
 * its lock is free (SQLite: the process lock; PostgreSQL: the lease's session lock), which is what
 * lets the next `run` resume at once; the read commands now say the same.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { killLeftovers } from '../helpers/pg-stop.js';
import { tempDir } from '../helpers/temp.js';

/** Far longer than the test: the dead run's lease is in force throughout. */
const LEASE = '120s';

interface Status {
  active: { runId: string } | null;
  succeeded: number;
  runs: { runId: string; status: string }[];
}

function writeJob(dir: string): void {
  writeJsonl(dir, 'records.jsonl', 5000);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'dead-holder',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 2,
  checkpoint: { everyRecords: 10, everyMs: 50 },
  handler: async () => { await new Promise((resolve) => setTimeout(resolve, 5)); },
});
`,
  );
}

/** Runs the job, waits for a commit, checks that status calls it active, SIGKILLs it, and returns what status then says. */
async function statusAfterKill(dir: string, ledgerFlags: string[]): Promise<{ before: Status; after: Status; runs: string }> {
  const status = async (): Promise<Status> => {
    const result = await runCli(['status', 'job.mjs', '--json', ...ledgerFlags], { cwd: dir });
    if (result.code !== 0) throw new Error(`status exited ${result.code}: ${result.stderr}`);
    return JSON.parse(result.stdout) as Status;
  };
  const run = spawnCli(['run', 'job.mjs', '--no-worker', '--lease', LEASE, '--no-progress', ...ledgerFlags], { cwd: dir });
  try {
    await waitFor(async () => {
      if (run.exitCode !== null) throw new Error(`the run ended early: ${(await run.result).stderr}`);
      if (ledgerFlags.length === 0 && !existsSync(join(dir, '.batchguard', 'dead-holder.sqlite'))) return false;
      return (await status().catch(() => undefined))?.succeeded !== undefined && (await status()).succeeded > 0;
    }, 60_000);
    const before = await status();
    run.kill('SIGKILL');
    await run.result;
    const after = await status();
    const runs = (await runCli(['runs', 'job.mjs', ...ledgerFlags], { cwd: dir })).stdout;
    return { before, after, runs };
  } finally {
    killLeftovers([run]);
  }
}

function expectShownDead({ before, after, runs }: { before: Status; after: Status; runs: string }): void {
  expect(before.active?.runId).toBeDefined();
  expect(before.runs[0]).toMatchObject({ runId: before.active?.runId, status: 'running' });
  // Killed: no longer active, and its run is shown as crashed, though its lease has ~2 minutes left.
  expect(after.active).toBeNull();
  expect(after.runs[0]).toMatchObject({ runId: before.active?.runId, status: 'crashed' });
  expect(runs).toMatch(new RegExp(`crashed .*${before.active?.runId}`));
}

it('status and runs show a SIGKILLed run on a SQLite ledger as crashed, not as active until its lease expires', async () => {
  const dir = tempDir();
  writeJob(dir);
  expectShownDead(await statusAfterKill(dir, []));
  // And the next run resumes at once, as before.
  const next = await runCli(['run', 'job.mjs', '--lease', LEASE, '--limit', '10', '--json'], { cwd: dir });
  expect(next.code, next.stderr).toBe(5);
  expect(next.stderr).toMatch(/had died without finishing/);
}, 120_000);

describePg('status on a PostgreSQL ledger', () => {
  pgPool();

  it('shows a SIGKILLed run as crashed, not as active until its lease expires', async () => {
    const dir = tempDir();
    writeJob(dir);
    const flags = ['--ledger', PG_URL, '--pg-schema', freshSchema('bg_e2e_status_dead')];
    expectShownDead(await statusAfterKill(dir, flags));
  }, 120_000);
});
