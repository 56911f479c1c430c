/**
 * Exit codes of the contract, through the real CLI: 130 on SIGINT (resumable), 4 for a second
 * run on a held ledger, 1 over the failure threshold, 0 within it, 2 for a bad job.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function slowJob(dir: string, name: string, records: number, extra = ''): void {
  writeJsonl(dir, `${name}.jsonl`, records);
  writeFileSync(
    join(dir, `${name}.mjs`),
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: '${name}',
  source: jsonl(${JSON.stringify(join(dir, `${name}.jsonl`))}),
  key: (r) => String(r.id),
  concurrency: 4,
  ${extra}
  handler: async (r, ctx) => {
    if (process.env.FAIL_PERCENT && r.id % 100 < Number(process.env.FAIL_PERCENT)) throw new FatalError('rejected: record ' + r.id);
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.DELAY_MS ?? 0)));
  },
});
`,
  );
}

describe('exit codes', () => {
  it('SIGINT gives 130 and leaves a resumable ledger; a concurrent run gets 4', async () => {
    const dir = tempDir();
    slowJob(dir, 'sigint', 2000);
    // A short lease: the concurrent run is refused once it sees the holder renew (every second).
    const child = spawnCli(['run', 'sigint.mjs', '--no-progress', '--lease', '3s'], { cwd: dir, env: { DELAY_MS: '5' } });
    let stderr = '';
    child.stderr?.on('data', (c) => (stderr += c));
    await waitFor(() => stderr.includes('started'));
    await new Promise((r) => setTimeout(r, 300));

    const second = await runCli(['run', 'sigint.mjs', '--no-progress'], { cwd: dir });
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/held by run [0-9a-f-]+ \(pid \d+/);
    expect(second.stderr).not.toMatch(/\n\s+at /);

    child.kill('SIGINT');
    const interrupted = await child.result;
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toContain('interrupted');
    expect(interrupted.stdout).toContain('next: batchguard run sigint.mjs');

    const resumed = await runCli(['run', 'sigint.mjs', '--json'], { cwd: dir });
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout);
    expect(summary).toMatchObject({ status: 'completed', total: 2000, succeeded: 2000, pending: 0 });
    expect(summary.alreadyDone).toBeGreaterThan(0);

    const status = await runCli(['status', 'sigint.mjs', '--json'], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 2000, succeeded: 2000, failed: 0, skipped: 0, pending: 0, active: null });
  }, 60_000);

  it('10% fatal failures with maxFailureRate 0.05 exit 1; 3% exit 0', async () => {
    const dir = tempDir();
    slowJob(dir, 'threshold', 1000, 'maxFailureRate: 0.05,');
    const over = await runCli(['run', 'threshold.mjs', '--json'], { cwd: dir, env: { FAIL_PERCENT: '10' } });
    expect(over.code).toBe(1);
    expect(JSON.parse(over.stdout)).toMatchObject({ status: 'threshold-exceeded', failed: 100, succeeded: 900 });

    const dir2 = tempDir();
    slowJob(dir2, 'threshold', 1000, 'maxFailureRate: 0.05,');
    const under = await runCli(['run', 'threshold.mjs', '--json'], { cwd: dir2, env: { FAIL_PERCENT: '3' } });
    expect(under.code).toBe(0);
    expect(JSON.parse(under.stdout)).toMatchObject({ status: 'completed', failed: 30, succeeded: 970 });
  }, 60_000);

  it('a bad job definition exits 2 with one line naming the field, and no stack trace', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'bad.ts'),
      `
import { defineJob } from 'batchguard';
export default defineJob({ name: 'bad', source: [1, 2], key: (r) => String(r), handler: async () => {}, concurrancy: 4 } as never);
`,
    );
    const result = await runCli(['run', 'bad.ts'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('job.concurrancy is not a known option (did you mean "concurrency"?)');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
