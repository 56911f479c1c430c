/**
 * `run --worker` through the real CLI: a run flag that means nothing for a worker is refused with a
 * one-line error naming it (exit 2), before anything is connected or read; none is ignored. A flag
 * only a worker reads, given to a single-process run, is said to be unused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, writeJsonl, writeNoopJob } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

describePg('run --worker flags', () => {
  // Drops the schema should a worker ever start.
  pgPool();

  it('refuses each flag a worker cannot honour, naming it, with exit 2', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', 10);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'worker-flags',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  handler: async () => {},
});
`,
    );
    const refused: [string[], string][] = [
      [['--max-duration', '1h'], '--max-duration'],
      [['--until', '06:00'], '--until'],
      [['--max-records', '5'], '--max-records'],
      [['--limit', '5'], '--limit'],
      [['--accept-drift'], '--accept-drift'],
      [['--take-over'], '--take-over'],
      [['--alert-webhook', 'http://127.0.0.1:9/hook'], '--alert-webhook'],
      [['--metrics-port', '0'], '--metrics-port'],
    ];
    const schema = freshSchema('bg_e2e_worker_flags');
    const results = await Promise.all(
      refused.map(([flags]) => runCli(['run', 'job.mjs', '--ledger', PG_URL, '--pg-schema', schema, '--worker', ...flags], { cwd: dir })),
    );
    for (const [i, result] of results.entries()) {
      const flag = (refused[i] as [string[], string])[1];
      expect(result.code, `${flag}: ${result.stderr}`).toBe(2);
      expect(result.stdout).toBe('');
      const lines = result.stderr.trim().split('\n');
      expect(lines, flag).toHaveLength(1);
      expect(lines[0]).toContain(`${flag} cannot be used with --worker: `);
      expect(lines[0]).toContain(`drop ${flag}, or run without --worker`);
    }
  }, 60_000);
});

it('a flag only a worker reads, given to a single-process run, is said to be unused (--records-per-chunk)', async () => {
  const dir = tempDir();
  writeNoopJob(dir, 'chunk-flag', 10);
  const result = await runCli(['run', 'job.mjs', '--records-per-chunk', '5', '--ledger', join(dir, 'l.sqlite')], { cwd: dir });
  expect(result.code, result.stderr).toBe(0);
  expect(result.stderr).toContain('--records-per-chunk is left unused: it splits a shared run, and this run is one process');
});
