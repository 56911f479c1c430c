/**
 * Crash quarantine through the real CLI: a record whose handler kills the process (`process.exit`,
 * or a fatal out-of-memory) is run alone after the first crash, fails with kind `crashed` once the
 * process has died `maxCrashes` (3) times with it in flight, and is never called again; the job then
 * completes. The records that were in flight beside it when the process died are not blamed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3_000;
const CONCURRENCY = 8;
const CRASHER = 1234;
const MAX_CRASHES = 3;

/**
 * A job whose handler appends `<pid> <id>` to calls.log, sleeps 1 ms, then runs `crash` for the
 * record CRASHER (the pid tells the runs apart in the log).
 */
function writeJob(dir: string, crash: string): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(join(dir, 'job.ts'), `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';

interface Rec { id: number; name: string }

export default defineJob({
  name: 'quarantine',
  source: jsonl<Rec>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  handler: async (r) => {
    appendFileSync(${JSON.stringify(join(dir, 'calls.log'))}, process.pid + ' ' + r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (r.id === ${CRASHER}) {
      ${crash}
    }
  },
});
`);
}

interface Call { pid: number; id: number }

function readCalls(dir: string): Call[] {
  const path = join(dir, 'calls.log');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((line) => {
    const [pid, id] = line.split(' ').map(Number) as [number, number];
    return { pid, id };
  });
}

/** The calls grouped by process, in the order the processes ran. */
function callsByRun(calls: Call[]): Call[][] {
  const runs: Call[][] = [];
  for (const call of calls) {
    const current = runs[runs.length - 1];
    if (current && current[0]?.pid === call.pid) current.push(call);
    else runs.push([call]);
  }
  return runs;
}

/** Runs the job until a run exits 0 (at most `limit` runs); returns every run's result. */
async function runUntilDone(dir: string, limit: number, env?: Record<string, string>): Promise<CliResult[]> {
  const results: CliResult[] = [];
  while (results.length < limit) {
    const result = await runCli(['run', 'job.ts', '--json', '--no-progress'], { cwd: dir, env });
    results.push(result);
    if (result.code === 0) break;
  }
  return results;
}

interface FailureLine {
  key: string;
  status: string;
  kind: string;
  attempts: number;
  rule: string;
  error: { name: string; crashes: number; runs: string[] };
}

async function failures(dir: string): Promise<FailureLine[]> {
  const result = await runCli(['failures', 'job.ts', '--format', 'jsonl'], { cwd: dir });
  expect(result.code).toBe(0);
  return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as FailureLine);
}

async function status(dir: string): Promise<{ total: number; succeeded: number; failed: number; skipped: number; pending: number; runs: { runId: string; status: string }[] }> {
  const result = await runCli(['status', 'job.ts', '--json'], { cwd: dir });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

describe('crash quarantine (real process)', () => {
  it('fails a record that calls process.exit after 3 crashes, never calls it again, and blames no neighbour', async () => {
    const dir = tempDir();
    writeJob(dir, 'process.exit(1);');

    const results = await runUntilDone(dir, MAX_CRASHES + 2);
    // Three deaths (exit code 7: the handler called process.exit mid-run), then a run that completes.
    expect(results.map((r) => r.code)).toEqual([7, 7, 7, 0]);
    for (const died of results.slice(0, MAX_CRASHES)) {
      expect(died.code).not.toBe(0);
      expect(died.signal).toBeNull();
    }
    const last = results[MAX_CRASHES] as CliResult;
    expect(last.stderr).toContain('resuming');
    expect(JSON.parse(last.stdout)).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS - 1, failed: 1, pending: 0 });

    const state = await status(dir);
    expect(state).toMatchObject({ total: RECORDS, succeeded: RECORDS - 1, failed: 1, skipped: 0, pending: 0 });
    const crashedRuns = state.runs.filter((r) => r.status === 'crashed').map((r) => r.runId);
    expect(crashedRuns).toHaveLength(MAX_CRASHES);

    // Exactly one failure: the crashing record, kind `crashed`, naming the three runs that died.
    const failed = await failures(dir);
    expect(failed).toHaveLength(1);
    const line = failed[0] as FailureLine;
    expect(line).toMatchObject({ key: String(CRASHER), status: 'failed', kind: 'crashed', attempts: 0, rule: 'crash-quarantine' });
    expect(line.error).toMatchObject({ name: 'RecordCrashed', crashes: MAX_CRASHES });
    expect(line.error.runs).toHaveLength(MAX_CRASHES);
    expect([...line.error.runs].sort()).toEqual([...crashedRuns].sort());

    // Every record was called; the crashing one exactly three times (never after its quarantine).
    const calls = readCalls(dir);
    const seen = new Map<number, number>();
    for (const { id } of calls) seen.set(id, (seen.get(id) ?? 0) + 1);
    for (let id = 0; id < RECORDS; id++) expect(seen.get(id) ?? 0, `calls of record ${id}`).toBeGreaterThanOrEqual(1);
    expect(seen.get(CRASHER)).toBe(MAX_CRASHES);
    // Innocent suspects run alone once and are never suspected again (docs/semantics.md): no other
    // record is called more than twice (once in flight beside the first crash, once alone after it).
    const overCalled = [...seen].filter(([id, n]) => id !== CRASHER && n > 2).map(([id]) => id);
    expect(overCalled.length, `records called more than twice, e.g. ${overCalled.slice(0, 5).join(', ')}`).toBe(0);

    const runs = callsByRun(calls);
    expect(runs).toHaveLength(MAX_CRASHES + 1);
    // Runs 2 and 3 processed the suspects alone: the crashing record was the last one called.
    for (const run of runs.slice(1, MAX_CRASHES)) expect(run[run.length - 1]?.id).toBe(CRASHER);
    expect(runs[MAX_CRASHES]?.some((c) => c.id === CRASHER)).toBe(false);

    // The innocent neighbours: records started in run 1 after the crashing one, still in flight when
    // the process died. They were run again (alone or not) and succeeded; none was quarantined.
    const first = runs[0] as Call[];
    const neighbours = first.slice(first.findIndex((c) => c.id === CRASHER) + 1).map((c) => c.id);
    expect(neighbours.length).toBeGreaterThan(0);
    const later = new Set(runs.slice(1).flat().map((c) => c.id));
    for (const id of neighbours) expect(later.has(id), `neighbour ${id} was run again`).toBe(true);
    expect(failed.map((f) => f.key)).not.toEqual(expect.arrayContaining(neighbours.map(String)));
  }, 60_000);

  it('fails a record whose handler runs the process out of memory, and the job completes', async () => {
    const dir = tempDir();
    // Fills the 64 MB heap synchronously: V8 gives up with a fatal "heap out of memory" and aborts.
    writeJob(dir, 'const hog: number[][] = []; for (;;) hog.push(new Array(1_000_000).fill(hog.length));');
    const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=64`.trim() };

    const results = await runUntilDone(dir, MAX_CRASHES + 3, env);
    const deaths = results.slice(0, -1);
    expect(results[results.length - 1]?.code).toBe(0);
    expect(deaths).toHaveLength(MAX_CRASHES);
    for (const died of deaths) {
      expect(died.code === 0 && died.signal === null, `a run died: code ${died.code}, signal ${died.signal}`).toBe(false);
      expect(died.stderr).toMatch(/heap out of memory/i);
    }
    expect(JSON.parse((results[results.length - 1] as CliResult).stdout)).toMatchObject({ status: 'completed', succeeded: RECORDS - 1, failed: 1, pending: 0 });

    const failed = await failures(dir);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ key: String(CRASHER), status: 'failed', kind: 'crashed' });
    expect(failed[0]?.error.crashes).toBe(MAX_CRASHES);
    expect(await status(dir)).toMatchObject({ total: RECORDS, succeeded: RECORDS - 1, failed: 1, pending: 0 });
    expect(readCalls(dir).filter((c) => c.id === CRASHER)).toHaveLength(MAX_CRASHES);
  }, 60_000);
});
