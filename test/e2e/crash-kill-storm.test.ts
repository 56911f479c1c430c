/**
 * Outside kills are not poison: 25 SIGKILLs, each at a random moment while records are being
 * processed (suspect groups included, since a resumed run starts with them), quarantine no record.
 * Afterwards the job completes with every record succeeded exactly once in the ledger.
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { seededInts } from '../helpers/random.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 20_000;
const CONCURRENCY = 64;
const KILLS = 25;

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

describe('random outside kills (real process, SIGKILL)', () => {
  it(`${KILLS} SIGKILLs at random moments quarantine no record, and the job then completes`, async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    const calls = join(dir, 'calls.log');
    writeFileSync(join(dir, 'job.ts'), `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';

export default defineJob({
  name: 'storm',
  source: jsonl<{ id: number }>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  handler: async (r) => {
    appendFileSync(${JSON.stringify(calls)}, r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
  },
});
`);
    const random = seededInts(20261130);
    let kills = 0;
    while (kills < KILLS) {
      const before = size(calls);
      const run = spawnCli(['run', 'job.ts', '--no-progress'], { cwd: dir });
      let ended = false;
      void run.result.then(() => (ended = true));
      // The first handler call of this run, then a random moment within the next 150 ms: early
      // kills land while the previous kill's suspects run in their groups.
      await waitFor(() => ended || size(calls) > before, 30_000);
      await new Promise((resolve) => setTimeout(resolve, random(150)));
      run.kill('SIGKILL');
      const result = await run.result;
      if (result.signal !== 'SIGKILL') {
        // The run ended by itself before the kill: the storm has outlived the job.
        expect(result.code, result.stderr).toBe(0);
        break;
      }
      kills++;
    }
    expect(kills).toBe(KILLS);

    const last = await runCli(['run', 'job.ts', '--json'], { cwd: dir });
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout)).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS, failed: 0, pending: 0 });
    const failures = await runCli(['failures', 'job.ts', '--format', 'jsonl'], { cwd: dir });
    expect(failures.code).toBe(0);
    expect(failures.stdout.trim()).toBe('');
  }, 180_000);
});
