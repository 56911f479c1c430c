/**
 * History across runs through the CLI: three runs of a job over records appended between runs, the
 * third much slower; its end-of-run summary warns, and `runs` and `status` show the runs side by side.
 * With a `run-regressed` alert rule, a run twice as slow as the ones before it POSTs one alert to a
 * real local webhook receiver, and a run as fast as them none.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { closeReceivers, receiver } from '../helpers/http-receiver.js';
import { tempDir } from '../helpers/temp.js';

afterEach(closeReceivers);

/** Appends `count` records, with ids from `from`, to the JSONL file at `path`. */
function appendRecords(path: string, from: number, count: number): void {
  const lines = [];
  for (let i = from; i < from + count; i++) lines.push(JSON.stringify({ id: i }));
  appendFileSync(path, `${lines.join('\n')}\n`);
}

/** Writes `job.mjs` in `dir`: one record at a time over `records.jsonl`, each taking SLEEP_MS; returns the data file. */
function historyJob(dir: string, name: string, extra = ''): string {
  const data = join(dir, 'records.jsonl');
  writeFileSync(data, '');
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: '${name}',
  source: jsonl(${JSON.stringify(data)}),
  key: (r) => String(r.id),
  concurrency: 1,
  ${extra}
  handler: () => new Promise((resolve) => setTimeout(resolve, Number(process.env.SLEEP_MS))),
});
`,
  );
  return data;
}

describe('run history (CLI)', () => {
  it('warns at the end of a run markedly slower than the previous ones, and lists the runs side by side', async () => {
    const dir = tempDir();
    const data = historyJob(dir, 'history');
    const stderrs: string[] = [];
    for (const [run, sleepMs] of [10, 10, 60].entries()) {
      appendRecords(data, run * 30, 30);
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

  it('a run-regressed rule POSTs one alert for a run three times as slow as the previous ones, and none for a run as fast', async () => {
    const dir = tempDir();
    const hook = await receiver();
    const data = historyJob(dir, 'nightly-export', "alerts: { rules: [{ kind: 'run-regressed' }] },");
    const url = `http://127.0.0.1:${hook.port}/services/T000/B000/hook`;
    const PER_RUN = 40;
    // Three runs alike (the first two have too few earlier runs to compare with; the third is not slower), then one three times as slow.
    // Records of 40 ms: a loaded machine adds milliseconds a record, far from the 1.5× that makes a run "markedly slower".
    for (const [run, sleepMs] of [40, 40, 40, 120].entries()) {
      appendRecords(data, run * PER_RUN, PER_RUN);
      const result = await runCli(['run', 'job.mjs', '--no-progress', '--alert-webhook', url], {
        cwd: dir,
        env: { SLEEP_MS: String(sleepMs) },
      });
      expect(result.code, result.stderr).toBe(0);
      expect(hook.received, `after run ${run + 1}: ${result.stderr}`).toHaveLength(run < 3 ? 0 : 1);
    }
    const listed = (await runCli(['runs', 'job.mjs', '--json'], { cwd: dir })).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { runId: string; recordsPerSecond: number; records: number });
    expect(listed.map((r) => r.records)).toEqual([PER_RUN, PER_RUN, PER_RUN, PER_RUN]);
    const [slow, ...previous] = listed;
    const speeds = previous.map((r) => r.recordsPerSecond).sort((a, b) => a - b);

    const body = JSON.parse(hook.received[0]!.body) as Record<string, unknown>;
    expect(body).toMatchObject({ job: 'nightly-export', rule: 'run-regressed', runId: slow!.runId, failed: 0, finished: PER_RUN });
    const text = String(body.text);
    const figures =
      /^batchguard: job nightly-export: run-regressed: this run is markedly slower than the previous 3 runs: (\d+) records\/s against a median of (\d+) \((\d+\.\d)× slower\)/.exec(
        text,
      );
    expect(figures, text).not.toBeNull();
    // The alert's figures are the ones `runs` lists: this run's throughput, and the median of the three before it.
    expect(Number(figures![1])).toBe(slow!.recordsPerSecond);
    expect(Number(figures![2])).toBe(speeds[1]);
    expect(Number(figures![3])).toBeGreaterThanOrEqual(1.5);
  });
});
