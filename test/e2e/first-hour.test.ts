/**
 * What a new user meets in the first hour, through the real CLI: the ledger found from any folder,
 * commands that need a ledger saying there is none, ledger values that name no usable file, the
 * next-step hint, run folders pruned, a dead run not shown as running, the version.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** A job file in `dir/jobs/` over 20 records; ids listed in FAIL fail with a FatalError, in FLAKY with a plain (retryable) error. */
function jobIn(dir: string, extra = ''): string {
  const jobs = join(dir, 'jobs');
  mkdirSync(jobs, { recursive: true });
  const data = writeJsonl(jobs, 'data.jsonl', 20);
  const file = join(jobs, 'numbers.job.mjs');
  writeFileSync(
    file,
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
const fail = (process.env.FAIL ?? '').split(',').filter(Boolean).map(Number);
const flaky = (process.env.FLAKY ?? '').split(',').filter(Boolean).map(Number);
export default defineJob({
  name: 'numbers',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  retry: { maxAttempts: 1 },
  maxFailureRate: 1,
  ${extra}
  handler: async (r) => {
    if (fail.includes(r.id)) throw new FatalError('rejected ' + r.id);
    if (flaky.includes(r.id)) throw new Error('try again ' + r.id);
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.DELAY_MS ?? 0)));
    return r.id;
  },
});
`,
  );
  return file;
}

describe('the ledger stays put', () => {
  it('a run started in one folder is what status shows from another; the first run says it made a new ledger', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    const elsewhere = join(dir, 'elsewhere');
    const cron = join(dir, 'cron-home');
    mkdirSync(elsewhere);
    mkdirSync(cron);

    const first = await runCli(['run', job, '--no-progress', '--max-records', '12'], { cwd: cron });
    expect(first.code).toBe(5);
    const ledger = join(dir, 'jobs', '.batchguard', 'numbers.sqlite');
    expect(first.stderr).toMatch(
      new RegExp(
        `^batchguard: run [0-9a-f-]+ started with a new ledger ${ledger} \\(nothing of job numbers was recorded there before\\)$`,
        'm',
      ),
    );
    expect(existsSync(join(cron, '.batchguard'))).toBe(false);

    const status = await runCli(['status', '../jobs/numbers.job.mjs', '--json'], { cwd: elsewhere });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 12, succeeded: 12, failed: 0, pending: 0, ledger });

    const second = await runCli(['run', '../jobs/numbers.job.mjs', '--no-progress', '--json'], { cwd: elsewhere });
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'completed', succeeded: 20, alreadyDone: 12 });
    expect(second.stderr).not.toContain('new ledger');
    expect(existsSync(join(elsewhere, '.batchguard'))).toBe(false);
  });

  it("uses the job's own ledger option, relative to the job file", async () => {
    const dir = tempDir();
    const job = jobIn(dir, "ledger: 'state/n.sqlite',");
    const run = await runCli(['run', job, '--json'], { cwd: dir });
    expect(JSON.parse(run.stdout).ledger).toBe(join(dir, 'jobs', 'state', 'n.sqlite'));
    const status = await runCli(['status', job, '--json'], { cwd: tempDir() });
    expect(JSON.parse(status.stdout)).toMatchObject({ succeeded: 20 });
  });
});

describe('before any run', () => {
  it('rerun --failed, status and failures say there is no ledger, and create none', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    const ledger = join(dir, 'jobs', '.batchguard', 'numbers.sqlite');
    for (const args of [
      ['rerun', job, '--failed'],
      ['status', job],
      ['failures', job],
    ]) {
      const result = await runCli(args, { cwd: dir });
      expect(result.code).toBe(4);
      expect(result.stderr).toBe(
        `batchguard: error: no ledger at ${ledger}: job ${job} has not run yet with this ledger (start it with \`batchguard run ${job}\`)\n`,
      );
      expect(result.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'jobs', '.batchguard'))).toBe(false);
  });
});

describe('ledger values that name no usable ledger', () => {
  it('--ledger :memory: is refused (exit 2) and no file of that name appears', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    for (const command of ['run', 'status']) {
      const result = await runCli([command, job, '--ledger', ':memory:'], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('--ledger ":memory:": batchguard has no in-memory ledger');
    }
    expect(readdirSync(dir).sort()).toEqual(['jobs']);
    expect(readdirSync(join(dir, 'jobs')).sort()).toEqual(['data.jsonl', 'numbers.job.mjs']);
  });

  it('a postgres:// ledger that cannot be reached exits 4 with one line that does not print its password', async () => {
    const dir = tempDir();
    const result = await runCli(['run', jobIn(dir), '--ledger', 'postgres://app:hunter2@127.0.0.1:1/jobs'], { cwd: dir });
    expect(result.code).toBe(4);
    expect(result.stderr).toBe(
      'batchguard: error: PostgreSQL ledger postgres://app@127.0.0.1:1/jobs (schema batchguard): opening the ledger failed: connect ECONNREFUSED 127.0.0.1:1 (is PostgreSQL running there, and the address right?); nothing was written\n',
    );
  });
});

describe('the next hint', () => {
  it('suggests rerun --failed only when a failure may pass on a second try', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    const permanent = await runCli(['run', job, '--json'], { cwd: dir, env: { FAIL: '3,4' } });
    expect(JSON.parse(permanent.stdout)).toMatchObject({ failed: 2, next: `batchguard failures ${job}` });
    const mixed = await runCli(['rerun', job, '--failed', '--json'], { cwd: dir, env: { FAIL: '3', FLAKY: '4' } });
    expect(JSON.parse(mixed.stdout)).toMatchObject({ failed: 2, next: `batchguard rerun ${job} --failed` });
  });
});

describe('run report folders', () => {
  it('keep the last N runs (--keep-runs, else the job option keepRuns)', async () => {
    const dir = tempDir();
    const job = jobIn(dir, 'keepRuns: 2,');
    const runs = join(dir, 'jobs', '.batchguard', 'numbers.runs');
    for (let i = 0; i < 3; i++) await runCli(['run', job, '--no-progress'], { cwd: dir });
    expect(readdirSync(runs)).toHaveLength(2);
    await runCli(['run', job, '--no-progress', '--keep-runs', '1'], { cwd: dir });
    expect(readdirSync(runs)).toHaveLength(1);
  });
});

describe('status', () => {
  it('never shows a run whose process died as running once its lease has expired', async () => {
    const dir = tempDir();
    const job = jobIn(dir);
    const child = spawnCli(['run', job, '--no-progress', '--lease', '1s'], { cwd: dir, env: { DELAY_MS: '100000' } });
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += chunk));
    await waitFor(() => stderr.includes('started'));
    const live = JSON.parse((await runCli(['status', job, '--json'], { cwd: dir })).stdout);
    expect(live.runs[0].status).toBe('running');
    expect(live.active).not.toBeNull();

    child.kill('SIGKILL');
    await child.result;
    // The lease is what tells a live run from a dead one (a process id proves nothing across
    // hosts and containers): wait out its 1 s expiry.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const dead = await runCli(['status', job, '--json'], { cwd: dir });
    expect(JSON.parse(dead.stdout)).toMatchObject({ active: null, runs: [{ status: 'crashed' }] });
    const text = await runCli(['status', job], { cwd: dir });
    expect(text.stdout).not.toContain('running');
    // A crashed run has no figures: its columns are dashes, then its run id.
    expect(text.stdout).toMatch(/ crashed +(?:- +)+[0-9a-f]{8}-[0-9a-f-]+$/m);
  });
});

describe('--version', () => {
  it("prints the package's version", async () => {
    const result = await runCli(['--version'], { cwd: tempDir() });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
