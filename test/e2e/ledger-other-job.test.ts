/**
 * Two jobs over the same input that share a SQLite ledger by mistake (`--ledger`, or the same
 * `ledger` option in both files): the second used to resume the first one's outcomes as its own,
 * finding every record "already done" and never calling its handler. It is refused instead (exit
 * 4), by `run` and by the read commands, and the first job's ledger is left as it was.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function writeJob(dir: string, name: string): void {
  writeFileSync(
    join(dir, `${name}.mjs`),
    `import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: '${name}',
  source: jsonl('records.jsonl'),
  key: (r) => String(r.id),
  handler: async (r) => { appendFileSync('${name}.calls', r.id + '\\n'); },
});
`,
  );
}

describe("a SQLite ledger holding another job's runs", () => {
  it('is refused by run and by the read commands, naming both jobs, and stays as it was', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', 50);
    writeJob(dir, 'geocode');
    writeJob(dir, 'enrich');
    const shared = ['--ledger', 'shared.sqlite'];
    expect((await runCli(['run', 'geocode.mjs', ...shared, '--no-progress'], { cwd: dir })).code).toBe(0);

    const other = await runCli(['run', 'enrich.mjs', ...shared, '--no-progress', '--json'], { cwd: dir });
    expect(other.code).toBe(4);
    expect(other.stderr).toContain('holds the runs of job "geocode", not of job "enrich"');
    expect(existsSync(join(dir, 'enrich.calls'))).toBe(false);
    for (const command of ['status', 'failures', 'runs']) {
      const read = await runCli([command, 'enrich.mjs', ...shared], { cwd: dir });
      expect(read.code, command).toBe(4);
    }

    const own = JSON.parse((await runCli(['status', 'geocode.mjs', ...shared, '--json'], { cwd: dir })).stdout);
    expect(own).toMatchObject({ total: 50, succeeded: 50 });
    expect(own.runs).toHaveLength(1);
    // Its own ledger, the default one, runs it.
    expect((await runCli(['run', 'enrich.mjs', '--no-progress'], { cwd: dir })).code).toBe(0);
    expect(existsSync(join(dir, 'enrich.calls'))).toBe(true);
  });
});
