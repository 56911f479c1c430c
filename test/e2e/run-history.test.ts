/**
 * History across runs through the CLI: three runs of a job over records appended between runs, the
 * third much slower; its end-of-run summary warns, and `runs` and `status` show the runs side by side.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const PER_RUN = 30;

function appendRecords(path: string, from: number): void {
  const lines = [];
  for (let i = from; i < from + PER_RUN; i++) lines.push(JSON.stringify({ id: i }));
  appendFileSync(path, `${lines.join('\n')}\n`);
}

describe('run history (CLI)', () => {
  it('warns at the end of a run markedly slower than the previous ones, and lists the runs side by side', async () => {
    const dir = tempDir();
    const data = join(dir, 'records.jsonl');
    writeFileSync(data, '');
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'history',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  concurrency: 1,
  handler: () => new Promise((resolve) => setTimeout(resolve, Number(process.env.SLEEP_MS))),
});
`,
    );
    const stderrs: string[] = [];
    for (const [run, sleepMs] of [10, 10, 60].entries()) {
      appendRecords(data, run * PER_RUN);
      const result = await runCli(['run', 'job.mjs', '--no-progress'], { cwd: dir, env: { SLEEP_MS: String(sleepMs) } });
      expect(result.code, result.stderr).toBe(0);
      stderrs.push(result.stderr);
    }
    expect(stderrs[1]).not.toContain('markedly slower');
    expect(stderrs[2]).toMatch(
      /batchguard: warning: this run is markedly slower than the previous 2 runs: \d+ records\/s against a median of \d+/,
    );

    const runs = await runCli(['runs', 'job.mjs'], { cwd: dir });
    expect(runs.code, runs.stderr).toBe(0);
    const lines = runs.stdout.trim().split('\n');
    expect(lines[0]).toBe('history: 3 most recent runs');
    expect(lines[1]).toMatch(/^ {2}started\s+status\s+records\s+failed\s+rate\s+elapsed\s+records\/s\s+run$/);
    expect(lines.slice(2)).toHaveLength(3);
    for (const line of lines.slice(2)) expect(line).toMatch(/completed\s+30\s+0\s+0\.0%\s+[\d.]+m?s\s+\d+\s+[0-9a-f-]{36}$/);

    const json = await runCli(['runs', 'job.mjs', '--json'], { cwd: dir });
    const listed = json.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number>);
    expect(listed.map((r) => r.records)).toEqual([30, 30, 30]);
    expect(listed[0]?.recordsPerSecond).toBeLessThan((listed[1]?.recordsPerSecond ?? 0) / 1.5);

    const status = await runCli(['status', 'job.mjs', '--json'], { cwd: dir });
    const parsed = JSON.parse(status.stdout) as { total: number; runs: Record<string, unknown>[] };
    expect(parsed.total).toBe(90);
    expect(parsed.runs.map((r) => [r.status, r.records, r.failed, r.failureRate])).toEqual([
      ['completed', 30, 0, 0],
      ['completed', 30, 0, 0],
      ['completed', 30, 0, 0],
    ]);
    const text = await runCli(['status', 'job.mjs'], { cwd: dir });
    expect(text.stdout).toMatch(/recent runs:\n {4}started\s+status\s+records/);
  });
});
