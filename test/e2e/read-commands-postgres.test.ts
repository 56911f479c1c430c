/**
 * The read commands (`status`, `runs`, `failures`, `report`, and `rerun`, which needs earlier
 * failures) over a PostgreSQL ledger where the job has no runs: a mistyped `--pg-schema`, or a job
 * not run there yet. Each refuses with exit code 4 and one line naming the ledger, and writes
 * nothing: the schema they were pointed at is not created (it was, with its eleven tables, before).
 * `run --dry-run` says what a run would do there, and creates nothing either.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, writeNoopJob } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

describePg('read commands over a PostgreSQL ledger without the job', () => {
  const pool = pgPool();

  it('refuse with exit code 4 and create nothing', async () => {
    const dir = tempDir();
    writeNoopJob(dir, 'never-run', 5);
    const schema = freshSchema('bg_e2e_mistyped');
    const ledger = ['--ledger', PG_URL, '--pg-schema', schema];
    for (const command of [
      ['status', 'job.mjs'],
      ['runs', 'job.mjs'],
      ['failures', 'job.mjs'],
      ['report', 'job.mjs', '--html', join(dir, 'r.html')],
      ['rerun', 'job.mjs', '--failed'],
      ['rerun', 'job.mjs', '--failed', '--worker'],
    ]) {
      const result = await runCli([...command, ...ledger], { cwd: dir });
      expect(result.code, `${command[0]}: ${result.stderr}`).toBe(4);
      expect(result.stderr, command[0]).toContain(`(schema ${schema}) has no runs of job never-run (job.mjs)`);
      expect(result.stderr).not.toContain('    at ');
    }
    // A dry run says what a run would do, creating nothing either.
    const dry = await runCli(['run', 'job.mjs', '--dry-run', '--json', ...ledger], { cwd: dir });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ total: 5, alreadyDone: 0, wouldProcess: 5 });
    const { rows } = await pool.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
    expect(rows).toEqual([]);
  });
});
