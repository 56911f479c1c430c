/**
 * `failures --format keys | rerun --failed --keys -`: the keys a failure report lists, piped into a
 * re-run of just those records.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BIN, runCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** The CLI with `input` on its standard input. */
function runWithInput(args: string[], cwd: string, input: string, env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, BATCHGUARD_LOG_FORMAT: 'pretty', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(input);
  return new Promise((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
}

it('re-runs the failed records whose keys come on standard input, and only them', async () => {
  const dir = tempDir();
  writeJsonl(dir, 'records.jsonl', 100);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'keys-stdin',
  source: jsonl('records.jsonl'),
  key: (r) => String(r.id),
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.id % 10 === 3 && !(process.env.FIXED ?? '').split(',').includes(String(r.id))) throw new FatalError('bad ' + r.id);
  },
});
`,
  );
  expect((await runCli(['run', 'job.mjs'], { cwd: dir })).code).toBe(0);
  const keys = (await runCli(['failures', 'job.mjs', '--format', 'keys'], { cwd: dir })).stdout;
  expect(keys.trim().split('\n')).toHaveLength(10);
  // The first three listed are fixed; the re-run is given those three.
  const chosen = keys.trim().split('\n').slice(0, 3);
  const rerun = await runWithInput(['rerun', 'job.mjs', '--failed', '--keys', '-', '--json'], dir, `${chosen.join('\n')}\n`, {
    FIXED: chosen.join(','),
  });
  expect(rerun.code, rerun.stderr).toBe(0);
  expect(JSON.parse(rerun.stdout)).toMatchObject({ thisRun: { succeeded: 3, failed: 0 }, failed: 7 });
});
