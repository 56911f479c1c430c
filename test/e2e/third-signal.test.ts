/**
 * A run that cannot save (its ledger's database froze, an output sink whose flush hangs) waits to
 * save after a second Ctrl-C, as it must not lose what it recorded. A third Ctrl-C quits at once,
 * like a crash: the exit code of the first signal (130 for SIGINT), and the next run redoes what
 * was not committed. Before, every signal after the second was ignored: only kill -9 ended it.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { spawnCli, waitFor, within, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** A job whose output sink's flush hangs once the file `hang` exists, as a sink writing to a frozen service would. */
function writeJob(dir: string): void {
  writeJsonl(dir, 'records.jsonl', 200);
  const stuck = join(dir, 'stuck');
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { existsSync, writeFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
const stuck = ${JSON.stringify(stuck)};
let lines = [];
export default defineJob({
  name: 'third-signal',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  checkpoint: { everyRecords: 20, everyMs: 50 },
  // A sink whose flush hangs once the file 'hang' exists, as a sink writing to a frozen service would.
  output: {
    description: 'a sink that hangs',
    open: async () => {},
    write: (value) => lines.push(value),
    seal: () => { const sealed = lines; lines = []; return sealed; },
    flush: async () => {
      if (existsSync(${JSON.stringify(join(dir, 'hang'))})) {
        writeFileSync(stuck, '');
        // A socket or a timer keeps a real hung call's process alive; this timer does here.
        await new Promise(() => process.env.DRAIN ? undefined : setInterval(() => {}, 1000));
      }
      return { bytes: 0 };
    },
    close: async () => {},
  },
  handler: async (r) => { await new Promise((resolve) => setTimeout(resolve, 5)); return r.id; },
});
`,
  );
}

it('a third SIGINT quits a run stuck saving at once, exit 130; the next run finishes the job', async () => {
  const dir = tempDir();
  writeJob(dir);
  const stuck = join(dir, 'stuck');
  writeFileSync(join(dir, 'hang'), '');
  const child = spawnCli(['run', 'job.mjs'], { cwd: dir });
  await waitFor(() => existsSync(stuck));
  child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill('SIGINT');
  const result = await within(child.result, 5_000, 'the run after a third SIGINT').finally(() => child.kill('SIGKILL'));
  expect(result.code, result.stderr).toBe(130);
  expect(result.stderr).toContain('SIGINT a third time: quitting without waiting to save');

  // Nothing lost: the next run goes on from the last commit and finishes every record.
  const { rmSync } = await import('node:fs');
  rmSync(join(dir, 'hang'));
  const next = await spawnCli(['run', 'job.mjs', '--json', '--lease', '1s'], { cwd: dir }).result;
  expect(next.code, next.stderr).toBe(0);
  expect(JSON.parse(next.stdout)).toMatchObject({ status: 'completed', total: 200, succeeded: 200, pending: 0 });
}, 60_000);

it('a run whose process runs out of work while unfinished (a promise nothing will settle) exits 7, saying so', async () => {
  const dir = tempDir();
  writeJob(dir);
  writeFileSync(join(dir, 'hang'), '');
  const result = await within(spawnCli(['run', 'job.mjs'], { cwd: dir, env: { DRAIN: '1' } }).result, 20_000, 'the drained run');
  expect(result.code, result.stderr).toBe(7);
  expect(result.stderr).toContain('the process ran out of work (the job waits for a promise that nothing will settle');
  expect(result.stderr).not.toContain('called process.exit');
}, 30_000);
