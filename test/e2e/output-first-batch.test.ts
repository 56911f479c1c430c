/**
 * A kill in the first batch, between the output sink's first write and the ledger's first commit,
 * must not leave the output holding bytes that no commit accounts for (every later run would
 * refuse the file). The sink's empty state is committed before its first line is written, so a
 * resume cuts those lines back and redoes their records.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 2000;

describe('a kill before the first commit of a job with an output', () => {
  it('resumes with every record once in the output', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    const output = join(dir, 'out.jsonl');
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
export default defineJob({
  name: 'first-batch',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 1,
  checkpoint: { everyRecords: 50, everyMs: 60000 },
  output: jsonlOutput(${JSON.stringify(output)}),
  handler: async (r) => { await new Promise((done) => setTimeout(done, 1)); return { id: r.id }; },
});
`,
    );
    const first = spawnCli(['run', 'job.mjs', '--no-progress', '--quiet'], { cwd: dir });
    // The first lines reach the file at the first group commit; kill at once.
    await waitFor(() => existsSync(output) && statSync(output).size > 0, 30_000);
    first.kill('SIGKILL');
    await first.result;
    const resumed = await runCli(['run', 'job.mjs', '--no-progress', '--json'], { cwd: dir });
    expect(resumed.stderr).not.toMatch(/did not write/);
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ total: RECORDS, succeeded: RECORDS, pending: 0 });
    const ids = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { id: number }).id);
    expect(ids).toHaveLength(RECORDS);
    expect(new Set(ids).size).toBe(RECORDS);
  }, 60_000);
});
