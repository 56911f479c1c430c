/**
 * A source that throws mid-run, through the real CLI: what finished is committed, the run ends with
 * exit code 2 and one line naming the source and its error (not "a bug in batchguard"), and the next
 * run resumes where it stopped.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

describe('a source that throws mid-run', () => {
  it('commits every finished outcome, exits 2 naming the source, and the next run resumes', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob } from 'batchguard';
async function* records() {
  for (let id = 0; id < 1000; id++) {
    if (id === 500 && process.env.BREAK_SOURCE) throw new Error('upstream closed the cursor');
    yield { id };
  }
}
export default defineJob({
  name: 'breaking-source',
  source: records,
  key: (r) => String(r.id),
  concurrency: 8,
  handler: async () => { await new Promise((resolve) => setTimeout(resolve, 2)); },
});
`,
    );
    const broken = await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir, env: { BREAK_SOURCE: '1' } });
    expect(broken.code).toBe(2);
    const errorLines = broken.stderr.split('\n').filter((line) => line.startsWith('batchguard: error:'));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toContain('iterable:records');
    expect(errorLines[0]).toContain('upstream closed the cursor');
    expect(broken.stderr).not.toMatch(/bug in batchguard/);
    expect(broken.stderr).not.toMatch(/\n\s+at /);

    // Every record read before the failure finished, and each one is committed.
    const afterBreak = JSON.parse((await runCli(['status', 'job.mjs', '--json'], { cwd: dir })).stdout);
    expect(afterBreak).toMatchObject({ succeeded: 500, failed: 0, active: null });

    const resumed = await runCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir });
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'completed', total: 1000, succeeded: 1000, pending: 0, alreadyDone: 500 });
  }, 60_000);
});
