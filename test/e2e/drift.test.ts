/**
 * Input drift through the real CLI: an input fixed between runs (a bad line deleted, the fixed
 * record appended), followed as the tool advises (`run` refuses, `run --accept-drift`, then
 * `rerun --failed`): every record is handled exactly once and the output holds each once.
 */
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function writeJob(dir: string): void {
  writeFileSync(
    join(dir, 'job.ts'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, jsonlOutput } from 'batchguard';

export default defineJob({
  name: 'drift',
  source: jsonl<{ id: number }>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  output: jsonlOutput(${JSON.stringify(join(dir, 'out.jsonl'))}),
  checkpoint: { everyRecords: 500, everyMs: 60_000 },
  handler: async (r) => {
    appendFileSync(${JSON.stringify(join(dir, 'calls.log'))}, r.id + '\\n');
    if (process.env.SLOW === '1') await new Promise((resolve) => setTimeout(resolve, 1));
    return { id: r.id };
  },
});
`,
  );
}

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

describe('drift through the CLI', () => {
  it('a fixed input, followed as advised, handles every id exactly once', async () => {
    const dir = tempDir();
    writeJob(dir);
    const source = join(dir, 'records.jsonl');
    writeFileSync(source, '{"id":1}\n{"id":2}\n{"id":3\n{"id":4}\n{"id":5}\n');

    const first = await runCli(['run', 'job.ts', '--json'], { cwd: dir });
    expect(JSON.parse(first.stdout)).toMatchObject({ total: 5, succeeded: 4, failed: 1, pending: 0 });

    // The user fixes the input: the bad line goes, the fixed record is appended.
    writeFileSync(source, '{"id":1}\n{"id":2}\n{"id":4}\n{"id":5}\n{"id":3}\n');
    const refused = await runCli(['run', 'job.ts'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--accept-drift');
    expect(refused.stderr).toContain('by key');

    const accepted = await runCli(['run', 'job.ts', '--accept-drift', '--json'], { cwd: dir });
    expect(accepted.code).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ total: 5, succeeded: 5, failed: 0, pending: 0 });

    const rerun = await runCli(['rerun', 'job.ts', '--failed', '--json'], { cwd: dir });
    expect(rerun.code).toBe(0);

    expect(lines(join(dir, 'calls.log')).sort()).toEqual(['1', '2', '3', '4', '5']);
    expect(
      lines(join(dir, 'out.jsonl'))
        .map((l) => JSON.parse(l).id)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5]);
    const status = await runCli(['status', 'job.ts', '--json'], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ total: 5, succeeded: 5, failed: 0, skipped: 0, pending: 0 });
  });

  it('a crash after accepted drift resumes without asking again, and loses or repeats no record', async () => {
    const dir = tempDir();
    writeJob(dir);
    const source = join(dir, 'records.jsonl');
    writeJsonl(dir, 'records.jsonl', 20_000);
    expect((await runCli(['run', 'job.ts', '--max-records', '5000'], { cwd: dir })).code).toBe(5);

    // Before the resume point: 100 records deleted and 50 new ones inserted; 1000 appended.
    const ids = Array.from({ length: 20_000 }, (_, i) => i).filter((id) => id < 1000 || id >= 1100);
    ids.splice(2000, 0, ...Array.from({ length: 50 }, (_, i) => 50_000 + i));
    ids.push(...Array.from({ length: 1000 }, (_, i) => 20_000 + i));
    writeFileSync(source, ids.map((id) => `${JSON.stringify({ id, name: `record-${id}` })}\n`).join(''));
    expect((await runCli(['run', 'job.ts'], { cwd: dir })).code).toBe(2);

    const calls = join(dir, 'calls.log');
    const accepted = spawnCli(['run', 'job.ts', '--accept-drift', '--no-progress'], { cwd: dir, env: { SLOW: '1' } });
    await waitFor(() => lines(calls).length >= 9000, 60_000);
    accepted.kill('SIGKILL');
    expect((await accepted.result).signal).toBe('SIGKILL');

    const resumed = await runCli(['run', 'job.ts', '--json'], { cwd: dir });
    expect(resumed.stderr).not.toContain('accept-drift');
    expect(resumed.code).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ total: ids.length, succeeded: ids.length, failed: 0, pending: 0 });

    const output = lines(join(dir, 'out.jsonl')).map((l) => JSON.parse(l).id as number);
    // Records deleted before the drift were output when they ran; every record of the source now, exactly once.
    const expected = [...ids, ...Array.from({ length: 100 }, (_, i) => 1000 + i)].sort((a, b) => a - b);
    expect(output.sort((a, b) => a - b)).toEqual(expected);
    const called = lines(calls).map(Number);
    expect(new Set(called)).toEqual(new Set(expected));
    // Repeats only for the crash: the records of the last uncommitted batch and those in flight.
    expect(called.length - expected.length).toBeLessThanOrEqual(500 + 4);
  });

  it('refuses a resume whose source resolves to another file, naming both paths', async () => {
    const dir = tempDir();
    const elsewhere = tempDir();
    // A relative source path: it resolves against the folder the CLI runs in.
    writeFileSync(
      join(dir, 'job.ts'),
      `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({ name: 'moved', source: jsonl<{ id: number }>('records.jsonl'), key: (r) => String(r.id), handler: async () => {} });
`,
    );
    writeJsonl(dir, 'records.jsonl', 10);
    writeJsonl(elsewhere, 'records.jsonl', 10);
    const ledger = join(dir, 'ledger.sqlite');
    expect((await runCli(['run', 'job.ts', '--ledger', ledger], { cwd: dir })).code).toBe(0);
    const moved = await runCli(['run', join(dir, 'job.ts'), '--ledger', ledger], { cwd: elsewhere });
    expect(moved.code).toBe(2);
    expect(moved.stderr).toContain(
      `records the source ${realpathSync(join(dir, 'records.jsonl'))}, but the job now reads ${realpathSync(join(elsewhere, 'records.jsonl'))}`,
    );
    expect(moved.stderr).not.toMatch(/\n\s+at /);
  });
});
