/**
 * `--ledger memory` and a job's `ledger: 'memory'` from the real CLI: a run that creates no file
 * anywhere, and commands that read earlier runs explaining that a memory ledger keeps nothing
 * between processes.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** A job file in `dir/jobs/` over 20 records; ids 3 and 7 fail. `extra` is added to its definition. */
function jobIn(dir: string, extra = ''): string {
  const jobs = join(dir, 'jobs');
  mkdirSync(jobs, { recursive: true });
  const data = writeJsonl(jobs, 'data.jsonl', 20);
  const file = join(jobs, 'numbers.job.mjs');
  writeFileSync(
    file,
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'numbers',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  maxFailureRate: 1,
  ${extra}
  handler: async (r) => {
    if (r.id === 3 || r.id === 7) throw new FatalError('rejected ' + r.id);
    return r.id;
  },
});
`,
  );
  return file;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const NOTHING_KEPT = (job: string): string =>
  `batchguard: error: the memory ledger keeps nothing after its run: job ${job} has no recorded runs to read or re-run; give the ledger file of an earlier run with --ledger\n`;

describe('the memory ledger from the CLI', () => {
  it('run --ledger memory completes with its summary and creates no file; status, failures and rerun explain that nothing was kept', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    const run = await runCli(['run', job, '--ledger', 'memory', '--json', '--no-progress'], { cwd: dir });
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ status: 'completed', total: 20, succeeded: 18, failed: 2, ledger: 'memory' });
    expect(summary.reports).toBeUndefined();
    expect(filesUnder(dir)).toEqual(['jobs', 'jobs/data.jsonl', 'jobs/numbers.job.mjs']);

    for (const command of [['status'], ['failures'], ['rerun', '--failed']]) {
      const result = await runCli([...command, job, '--ledger', 'memory'], { cwd: dir });
      expect({ command: command[0], code: result.code, stderr: result.stderr, stdout: result.stdout }).toEqual({
        command: command[0],
        code: 4,
        stderr: NOTHING_KEPT(job),
        stdout: '',
      });
    }
    expect(filesUnder(dir)).toEqual(['jobs', 'jobs/data.jsonl', 'jobs/numbers.job.mjs']);
  });

  it("a job whose definition says ledger: 'memory' runs without a file, and status explains", async () => {
    const dir = tempDir();
    const job = jobIn(dir, "ledger: 'memory',");
    const run = await runCli(['run', job, '--json', '--no-progress'], { cwd: dir });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'completed', succeeded: 18, failed: 2, ledger: 'memory' });
    const status = await runCli(['status', job], { cwd: dir });
    expect(status.code).toBe(4);
    expect(status.stderr).toBe(NOTHING_KEPT(job));
    expect(filesUnder(dir)).toEqual(['jobs', 'jobs/data.jsonl', 'jobs/numbers.job.mjs']);
  });
});
