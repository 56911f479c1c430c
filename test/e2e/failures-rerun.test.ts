/**
 * The remediation loop through the real CLI: a run with deterministic fatal and transient
 * failures, the failure report, a "fixed" handler, `rerun --failed`, and exact counts after it.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 20_000;

function writeJob(dir: string): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(
    join(dir, 'job.ts'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, FatalError, RetryableError } from 'batchguard';

export default defineJob({
  name: 'remediation',
  source: jsonl<{ id: number }>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => 'k' + r.id,
  concurrency: 8,
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
  maxFailureRate: 0.1,
  handler: async (r) => {
    appendFileSync(process.env.CALLS_FILE!, r.id + '\\n');
    if (process.env.FIXED === '1') return;
    if (r.id % 100 < 3) throw new FatalError('record ' + r.id + ' has a bad postcode "X' + r.id + '"');
    if (r.id % 100 < 5) throw new RetryableError('upstream busy for record ' + r.id);
  },
});
`,
  );
}

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('failures and rerun --failed', () => {
  it('lists exactly the failed keys, re-runs only them once fixed, and counts each record once', async () => {
    const dir = tempDir();
    writeJob(dir);
    const expectedFatal = [];
    const expectedExhausted = [];
    for (let id = 0; id < RECORDS; id++) {
      if (id % 100 < 3) expectedFatal.push(`k${id}`);
      else if (id % 100 < 5) expectedExhausted.push(`k${id}`);
    }
    const first = await runCli(['run', 'job.ts', '--json'], { cwd: dir, env: { CALLS_FILE: join(dir, 'calls-1.log') } });
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({ total: RECORDS, succeeded: RECORDS * 0.95, failed: RECORDS * 0.05, pending: 0 });
    expect(summary.next).toBe('batchguard rerun job.ts --failed');
    expect(existsSync(summary.reports.summary)).toBe(true);
    expect(lines(summary.reports.failures)).toHaveLength(RECORDS * 0.05);
    // The transient errors group into one fingerprint, the fatal ones into another.
    expect(summary.topErrors.map((g: { count: number }) => g.count)).toEqual([RECORDS * 0.03, RECORDS * 0.02]);

    const keys = await runCli(['failures', 'job.ts', '--format', 'keys'], { cwd: dir });
    expect(keys.code).toBe(0);
    expect(keys.stdout.trim().split('\n').sort()).toEqual([...expectedFatal, ...expectedExhausted].sort());

    const fatal = await runCli(['failures', 'job.ts', '--format', 'keys', '--kind', 'fatal'], { cwd: dir });
    expect(fatal.stdout.trim().split('\n').sort()).toEqual([...expectedFatal].sort());

    const jsonl = await runCli(['failures', 'job.ts', '--format', 'jsonl', '--kind', 'exhausted'], { cwd: dir });
    const line = JSON.parse(jsonl.stdout.split('\n')[0] as string);
    expect(line).toMatchObject({ key: 'k3', status: 'failed', kind: 'exhausted', attempts: 2, source: { line: 4 } });
    expect(line.history).toHaveLength(2);
    expect(line.history[0]).toMatchObject({ attempt: 1, delayMs: 1, error: { name: 'RetryableError' } });

    const table = await runCli(['failures', 'job.ts'], { cwd: dir });
    expect(table.stdout).toContain(`${RECORDS * 0.03}`);
    expect(table.stdout).toContain('FatalError; rule FatalError');
    expect(table.stdout).toContain('record <n> has a bad postcode <str>  e.g. k0, k1, k2');
    expect(table.stdout).toContain('re-run them: batchguard rerun job.ts --failed');

    writeFileSync(join(dir, 'keys.txt'), `${keys.stdout}not-a-key\nk7\n`);
    const rerun = await runCli(['rerun', 'job.ts', '--failed', '--keys', 'keys.txt', '--json'], {
      cwd: dir,
      env: { FIXED: '1', CALLS_FILE: join(dir, 'calls-2.log') },
    });
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toContain('1 of the keys given are not in the source: not-a-key');
    expect(rerun.stderr).toContain('1 of the keys given have not failed');
    const rerunCalls = lines(join(dir, 'calls-2.log'))
      .map((id) => `k${id}`)
      .sort();
    expect(rerunCalls).toEqual([...expectedFatal, ...expectedExhausted].sort());
    expect(JSON.parse(rerun.stdout)).toMatchObject({
      total: RECORDS,
      succeeded: RECORDS,
      failed: 0,
      pending: 0,
      thisRun: { succeeded: RECORDS * 0.05 },
    });

    const status = await runCli(['status', 'job.ts', '--json'], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, skipped: 0, pending: 0 });

    const again = await runCli(['rerun', 'job.ts', '--failed', '--json'], {
      cwd: dir,
      env: { FIXED: '1', CALLS_FILE: join(dir, 'calls-3.log') },
    });
    expect(again.code).toBe(0);
    expect(lines(join(dir, 'calls-3.log'))).toHaveLength(0);
  }, 120_000);

  it('rerun narrows by error group (or the start of one), refuses a group no failure is in, and refuses to run without --failed', async () => {
    const dir = tempDir();
    writeJob(dir);
    await runCli(['run', 'job.ts', '--json'], { cwd: dir, env: { CALLS_FILE: join(dir, 'calls-1.log') } });
    const groups = await runCli(['failures', 'job.ts', '--format', 'jsonl', '--kind', 'fatal'], { cwd: dir });
    const fingerprint = JSON.parse(groups.stdout.split('\n')[0] as string).fingerprint;

    // A group that no failed record is in (mistyped, or fixed already) selects nothing: refused, nothing runs.
    const unknown = await runCli(['rerun', 'job.ts', '--failed', '--error', 'zzzzzz'], {
      cwd: dir,
      env: { CALLS_FILE: join(dir, 'calls-0.log') },
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`--error "zzzzzz" is not the error group of any failed record`);
    expect(unknown.stderr).toContain(`${fingerprint} (${RECORDS * 0.03} records)`);
    const noTimeouts = await runCli(['rerun', 'job.ts', '--failed', '--kind', 'timeout'], {
      cwd: dir,
      env: { CALLS_FILE: join(dir, 'calls-0.log') },
    });
    expect(noTimeouts.code).toBe(2);
    expect(noTimeouts.stderr).toContain(
      `--kind timeout: no failed record is of kind timeout; the failed records: ${RECORDS * 0.03} fatal, ${RECORDS * 0.02} exhausted`,
    );
    expect(existsSync(join(dir, 'calls-0.log'))).toBe(false);
    const listed = await runCli(['failures', 'job.ts', '--error', fingerprint.slice(0, 6).toUpperCase()], { cwd: dir });
    expect(listed.stdout).toContain(`re-run them: batchguard rerun job.ts --failed --error ${fingerprint}`);

    const rerun = await runCli(['rerun', 'job.ts', '--failed', '--error', fingerprint.slice(0, 6), '--json'], {
      cwd: dir,
      env: { FIXED: '1', CALLS_FILE: join(dir, 'calls-2.log') },
    });
    expect(JSON.parse(rerun.stdout)).toMatchObject({ failed: RECORDS * 0.02, succeeded: RECORDS * 0.98 });
    expect(lines(join(dir, 'calls-2.log'))).toHaveLength(RECORDS * 0.03);

    const missing = await runCli(['rerun', 'job.ts'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('rerun needs --failed');
  }, 120_000);
});
