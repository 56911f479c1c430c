/**
 * The opt-out examples (examples/opt-outs/) run as a user runs them, through the CLI, and do what
 * their comments say.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'examples', 'opt-outs');

async function run(example: string, ledger?: string) {
  const args = ['run', join(EXAMPLES, example), '--json', '--no-progress', ...(ledger ? ['--ledger', ledger] : [])];
  const result = await runCli(args, { cwd: tempDir() });
  return { ...result, summary: JSON.parse(result.stdout) as Record<string, unknown> & { topErrors: { count: number }[] } };
}

describe('opt-out examples', () => {
  it('memory ledger: isolation and a summary, no file and no resume', async () => {
    const { code, summary } = await run('memory-ledger.job.ts');
    expect(code).toBe(0);
    expect(summary).toMatchObject({ ledger: 'memory', total: 6, succeeded: 4, failed: 2 });
    expect(summary.reports).toBeUndefined();
    expect(existsSync(join(EXAMPLES, '.batchguard'))).toBe(false);
  });

  it('no retries: each failure after one call, reported for a rerun by hand', async () => {
    const ledger = join(tempDir(), 'transfers.sqlite');
    const { code, summary } = await run('no-retries.job.ts', ledger);
    expect(code).toBe(0);
    expect(summary).toMatchObject({ total: 4, succeeded: 2, failed: 2, attempts: 4, retries: 0 });
  });

  it('breaker off: ten dead hosts in a row fail their records and the run completes', async () => {
    const { code, summary } = await run('breaker-off.job.ts', join(tempDir(), 'links.sqlite'));
    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: 'completed', total: 11, succeeded: 1, failed: 10, retries: 10 });
  });

  it('thresholds off: half the records fail and the run still exits 0', async () => {
    const { code, summary } = await run('thresholds-off.job.ts', join(tempDir(), 'audit.sqlite'));
    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: 'completed', total: 4, succeeded: 2, failed: 2 });
    expect(summary.topErrors.map((e) => e.count)).toEqual([1, 1]);
  });

  it('whole batch: an entry that does not balance fails whole, the others post', async () => {
    const { code, summary } = await run('whole-batch.job.ts', join(tempDir(), 'journal.sqlite'));
    expect(code).toBe(0);
    expect(summary).toMatchObject({ status: 'completed', total: 3, succeeded: 2, failed: 1 });
  });
});
