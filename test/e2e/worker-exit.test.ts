/**
 * A worker whose handler calls `process.exit(0)` mid-run (the worker path of
 * test/e2e/hostile-handlers.test.ts): the worker exits 7 naming the record, never 0, and running
 * it again finishes the shared run with every record done.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const EXIT_EXITED = 7;

describePg('a worker whose handler calls process.exit(0)', () => {
  pgPool();

  it('exits 7 naming the record, and the next worker finishes the run', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', 200);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { existsSync, writeFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
const marker = ${JSON.stringify(join(dir, 'marker'))};
export default defineJob({
  name: 'worker-exit',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  handler: async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (r.id === 50 && !existsSync(marker)) {
      writeFileSync(marker, '');
      process.exit(0);
    }
  },
});
`,
    );
    // A short lease: the dead worker's chunk is taken over soon after.
    const args = [
      'run',
      'job.mjs',
      '--ledger',
      PG_URL,
      '--pg-schema',
      freshSchema('bg_e2e_worker_exit'),
      '--worker',
      '--json',
      '--lease',
      '1s',
    ];
    const died = await runCli(args, { cwd: dir });
    expect(died.code, died.stderr).toBe(EXIT_EXITED);
    expect(died.stderr).toContain('record "50" called process.exit(0)');

    const finished = await runCli(args, { cwd: dir });
    expect(finished.code, finished.stderr).toBe(0);
    expect(JSON.parse(finished.stdout)).toMatchObject({ status: 'completed', total: 200, succeeded: 200, failed: 0, pending: 0 });
  }, 60_000);
});
