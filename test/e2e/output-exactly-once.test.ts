/**
 * jsonlOutput under SIGKILL: killed at random moments and resumed each time, the output file ends
 * with exactly one line per record, none duplicated, none missing.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 30_000;
const KILLS = 6;

describe('output exactly once', () => {
  it('survives repeated SIGKILLs with no duplicated or missing line', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    const output = join(dir, 'out', 'results.jsonl');
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
export default defineJob({
  name: 'output-test',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 6,
  checkpoint: { everyRecords: 500, everyMs: 50 },
  output: jsonlOutput(${JSON.stringify(output)}),
  handler: async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    return { id: r.id, upper: r.name.toUpperCase() };
  },
});
`,
    );
    const size = (): number => (existsSync(output) ? statSync(output).size : 0);
    for (let kill = 0; kill < KILLS; kill++) {
      const child = spawnCli(['run', 'job.mjs', '--no-progress', '--quiet'], { cwd: dir });
      const before = size();
      // A random moment: after the output has grown by a random amount.
      const growth = 2_000 + Math.floor(Math.random() * 60_000);
      await waitFor(() => size() > before + growth || child.exitCode !== null, 60_000);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      child.kill('SIGKILL');
      await child.result;
    }
    const final = await runCli(['run', 'job.mjs', '--json'], { cwd: dir });
    expect(final.code).toBe(0);
    expect(JSON.parse(final.stdout)).toMatchObject({ total: RECORDS, succeeded: RECORDS, pending: 0 });
    const ids = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).id as number);
    expect(ids).toHaveLength(RECORDS);
    expect(new Set(ids).size).toBe(RECORDS);
  }, 240_000);

  it('refuses an output file the ledger did not write', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', 10);
    writeFileSync(join(dir, 'results.jsonl'), '{"old":true}\n');
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
export default defineJob({
  name: 'output-refuse', source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}), key: (r) => String(r.id),
  output: jsonlOutput(${JSON.stringify(join(dir, 'results.jsonl'))}), handler: async (r) => r,
});
`,
    );
    const result = await runCli(['run', 'job.mjs'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("already holds 13 bytes that this job's ledger did not write");
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe('{"old":true}\n');
  });
});
