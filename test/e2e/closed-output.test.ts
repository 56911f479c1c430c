/**
 * A run whose output nobody reads any more (`batchguard run job.mjs 2>&1 | head`, a log shipper
 * that died): writing to the closed pipe fails with EPIPE, and the run goes on to its end. It used
 * to stop there with exit 6, as if an error had escaped the job's code.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

describe('a closed stdout and stderr', () => {
  it('lose the output, not the run: it finishes every record with its own exit code', async () => {
    const dir = tempDir();
    const records = writeJsonl(dir, 'records.jsonl', 3000);
    // Every record fails, so every one is a line on stderr (JSON log), long after the pipe closed.
    writeFileSync(
      join(dir, 'job.mjs'),
      `import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'closed-output',
  source: jsonl(${JSON.stringify(records)}),
  key: (r) => String(r.id),
  maxFailureRate: 1,
  handler: async (r) => { throw new FatalError('rejected ' + r.id); },
});
`,
    );
    const child = spawnCli(['run', 'job.mjs'], { cwd: dir, env: { BATCHGUARD_LOG_FORMAT: 'json' } });
    // The reading end closes at once, as `head` does after its lines.
    child.stdout?.destroy();
    child.stderr?.destroy();
    const { code } = await child.result;
    expect(code).toBe(0);
    const status = await runCli(['status', 'job.mjs', '--json'], { cwd: dir });
    const state = JSON.parse(status.stdout) as { failed: number; pending: number; runs: { status: string }[] };
    expect({ failed: state.failed, pending: state.pending, last: state.runs[0]?.status }).toEqual({
      failed: 3000,
      pending: 0,
      last: 'completed',
    });
  });
});
