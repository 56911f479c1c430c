/**
 * Crash quarantine through the real CLI: a record whose handler kills the process (`process.exit`,
 * or a fatal out-of-memory) is found by bisection: after the first crash the suspects run in
 * groups at the job's concurrency, and each crash halves the group that was running, until the
 * record runs alone. It fails with kind `crashed` once the process has died `maxCrashes` (3) times
 * while it ran alone, and is never called again; the job then completes. The records that were in
 * flight beside it are not blamed. At concurrency C that takes at most 1 + log2(C) + maxCrashes
 * deaths: 7 at concurrency 8, 10 at concurrency 64; as many for a record that crashes the process
 * only on its retry (its group waits for it, and runs by itself).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3_000;
const CRASHER = 1234;
const MAX_CRASHES = 3;

/**
 * A job whose handler appends `<pid> <id>` to calls.log, sleeps 1 ms, then runs `crash` for the
 * record CRASHER (the pid tells the runs apart in the log).
 */
function writeJob(dir: string, crash: string, concurrency: number, retry = ''): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(
    join(dir, 'job.ts'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';

interface Rec { id: number; name: string }

export default defineJob({
  name: 'quarantine',
  source: jsonl<Rec>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${concurrency},
  ${retry}
  handler: async (r, ctx) => {
    appendFileSync(${JSON.stringify(join(dir, 'calls.log'))}, process.pid + ' ' + r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 1));
    if (r.id === ${CRASHER}) {
      ${crash}
    }
  },
});
`,
  );
}

interface Call {
  pid: number;
  id: number;
}

function readCalls(dir: string): Call[] {
  const path = join(dir, 'calls.log');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => {
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

/** The most deaths bisection may take to quarantine a record at this concurrency. */
function maxDeaths(concurrency: number): number {
  return 1 + Math.ceil(Math.log2(concurrency)) + MAX_CRASHES;
}

/** Runs the job until a run exits 0 (at most `limit` runs); returns every run's result. */
async function runUntilDone(dir: string, limit: number, env?: Record<string, string>, ledger: string[] = []): Promise<CliResult[]> {
  const results: CliResult[] = [];
  while (results.length < limit) {
    // The previous run died holding the lease: take it over rather than wait for it to expire. One
    // process (--no-worker) over PostgreSQL: workers have no crash quarantine (docs/workers.md).
    const runFlags = ['--json', '--no-progress', '--no-worker', ...ledger, ...(results.length > 0 ? ['--take-over'] : [])];
    const result = await runCli(['run', 'job.ts', ...runFlags], {
      cwd: dir,
      env,
    });
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

async function failures(dir: string, ledger: string[] = []): Promise<FailureLine[]> {
  const result = await runCli(['failures', 'job.ts', '--format', 'jsonl', ...ledger], { cwd: dir });
  expect(result.code).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as FailureLine);
}

async function status(
  dir: string,
  ledger: string[] = [],
): Promise<{
  total: number;
  succeeded: number;
  failed: number;
  skipped: number;
  pending: number;
  runs: { runId: string; status: string }[];
}> {
  const result = await runCli(['status', 'job.ts', '--json', ...ledger], { cwd: dir });
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

/**
 * Runs the job over `ledger` (flags; none: the default SQLite file) until the record that calls
 * process.exit is quarantined, and checks every run, the failure and the calls.
 */
async function quarantinesExit(concurrency: number, ledger: string[] = []): Promise<void> {
  const dir = tempDir();
  writeJob(dir, 'process.exit(1);', concurrency);

  const results = await runUntilDone(dir, maxDeaths(concurrency) + 1, undefined, ledger);
  const deaths = results.slice(0, -1);
  // Deaths (exit code 7: the handler called process.exit mid-run), then a run that completes.
  expect(results.map((r) => r.code)).toEqual([...deaths.map(() => 7), 0]);
  expect(deaths.length).toBeGreaterThanOrEqual(MAX_CRASHES + 1);
  expect(deaths.length).toBeLessThanOrEqual(maxDeaths(concurrency));
  console.log(
    `concurrency ${concurrency}: the crashing record was quarantined after ${deaths.length} deaths (at most ${maxDeaths(concurrency)})`,
  );
  for (const died of deaths) expect(died.signal).toBeNull();
  const last = results[results.length - 1] as CliResult;
  expect(last.stderr).toContain('resuming');
  expect(JSON.parse(last.stdout)).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS - 1, failed: 1, pending: 0 });

  const state = await status(dir, ledger);
  expect(state).toMatchObject({ total: RECORDS, succeeded: RECORDS - 1, failed: 1, skipped: 0, pending: 0 });
  // `status` lists the last 10 runs: the completed one and the latest deaths.
  const crashedRuns = state.runs.filter((r) => r.status === 'crashed').map((r) => r.runId);
  expect(crashedRuns).toHaveLength(Math.min(deaths.length, 9));

  // Exactly one failure: the crashing record, kind `crashed`, naming the three runs that died while it ran alone.
  const failed = await failures(dir, ledger);
  expect(failed).toHaveLength(1);
  const line = failed[0] as FailureLine;
  expect(line).toMatchObject({ key: String(CRASHER), status: 'failed', kind: 'crashed', attempts: 0, rule: 'crash-quarantine' });
  expect(line.error).toMatchObject({ name: 'RecordCrashed', crashes: MAX_CRASHES });
  expect(line.error.runs).toHaveLength(MAX_CRASHES);
  expect(crashedRuns).toEqual(expect.arrayContaining(line.error.runs));

  // Every record was called; the crashing one once per death (never after its quarantine).
  const calls = readCalls(dir);
  const seen = new Map<number, number>();
  for (const { id } of calls) seen.set(id, (seen.get(id) ?? 0) + 1);
  for (let id = 0; id < RECORDS; id++) expect(seen.get(id) ?? 0, `calls of record ${id}`).toBeGreaterThanOrEqual(1);
  expect(seen.get(CRASHER)).toBe(deaths.length);
  // An innocent record is called at most once in flight beside the first crash, then once per
  // group it shared with the crashing record (one per halving), then once more to succeed.
  const overCalled = [...seen].filter(([id, n]) => id !== CRASHER && n > 2 + Math.ceil(Math.log2(concurrency))).map(([id]) => id);
  expect(overCalled.length, `records called too often, e.g. ${overCalled.slice(0, 5).join(', ')}`).toBe(0);

  const runs = callsByRun(calls);
  expect(runs).toHaveLength(results.length);
  // The last deaths ran the crashing record alone: it was the last record called.
  for (const run of runs.slice(deaths.length - MAX_CRASHES, deaths.length)) expect(run[run.length - 1]?.id).toBe(CRASHER);
  // The deaths before ran it in a group: it was among the last `concurrency` records called.
  for (const run of runs.slice(1, deaths.length - MAX_CRASHES)) expect(run.slice(-concurrency).map((c) => c.id)).toContain(CRASHER);
  expect(runs[deaths.length]?.some((c) => c.id === CRASHER)).toBe(false);

  // The innocent neighbours: records started in run 1 after the crashing one, still in flight when
  // the process died. They were run again and succeeded; none was quarantined.
  const first = runs[0] as Call[];
  const neighbours = first.slice(first.findIndex((c) => c.id === CRASHER) + 1).map((c) => c.id);
  expect(neighbours.length).toBeGreaterThan(0);
  const later = new Set(
    runs
      .slice(1)
      .flat()
      .map((c) => c.id),
  );
  for (const id of neighbours) expect(later.has(id), `neighbour ${id} was run again`).toBe(true);
  expect(failed.map((f) => f.key)).not.toEqual(expect.arrayContaining(neighbours.map(String)));
}

describe('crash quarantine (real process)', () => {
  it.each([8, 64])(
    'fails a record that calls process.exit after 3 crashes alone (concurrency %i), never calls it again, and blames no neighbour',
    (concurrency) => quarantinesExit(concurrency),
    120_000,
  );

  it.each([8, 64])(
    'fails a record that calls process.exit only on its retry (attempt 2) within the same number of deaths (concurrency %i)',
    async (concurrency) => {
      const dir = tempDir();
      // Its first attempt fails: it waits for its retry without a slot, and its group must wait for it.
      writeJob(
        dir,
        "if (ctx.attempt >= 2) process.exit(1); throw new Error('try again');",
        concurrency,
        "retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 20 } },",
      );

      const results = await runUntilDone(dir, maxDeaths(concurrency) + 1);
      const deaths = results.slice(0, -1);
      console.log(
        `concurrency ${concurrency}, crash on the retry: quarantined after ${deaths.length} deaths (at most ${maxDeaths(concurrency)})`,
      );
      expect(results.map((r) => r.code)).toEqual([...deaths.map(() => 7), 0]);
      expect(deaths.length).toBeGreaterThanOrEqual(MAX_CRASHES + 1);
      expect(deaths.length).toBeLessThanOrEqual(maxDeaths(concurrency));
      const last = results[results.length - 1] as CliResult;
      expect(JSON.parse(last.stdout)).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS - 1, failed: 1, pending: 0 });
      const failed = await failures(dir);
      expect(failed).toHaveLength(1);
      expect(failed[0]).toMatchObject({ key: String(CRASHER), status: 'failed', kind: 'crashed', attempts: 0, rule: 'crash-quarantine' });
      expect(failed[0]?.error.crashes).toBe(MAX_CRASHES);

      // Each death called it twice (its attempt and the retry that died); the completed run not at all.
      const runs = callsByRun(readCalls(dir));
      expect(runs).toHaveLength(results.length);
      for (const run of runs.slice(0, deaths.length)) expect(run.filter((c) => c.id === CRASHER)).toHaveLength(2);
      expect(runs[deaths.length]?.some((c) => c.id === CRASHER)).toBe(false);
      // The deaths that count toward its quarantine ran it alone: nothing was called between its two attempts.
      for (const run of runs.slice(deaths.length - MAX_CRASHES, deaths.length)) {
        const first = run.findIndex((c) => c.id === CRASHER);
        expect(run.slice(first).map((c) => c.id)).toEqual([CRASHER, CRASHER]);
      }
    },
    180_000,
  );

  it('fails a record whose handler runs the process out of memory, and the job completes', async () => {
    const dir = tempDir();
    // Fills the 64 MB heap synchronously: V8 gives up with a fatal "heap out of memory" and aborts.
    writeJob(dir, 'const hog: number[][] = []; for (;;) hog.push(new Array(1_000_000).fill(hog.length));', 4);
    const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=64`.trim() };

    const results = await runUntilDone(dir, maxDeaths(4) + 1, env);
    const deaths = results.slice(0, -1);
    expect(results[results.length - 1]?.code).toBe(0);
    expect(deaths.length).toBeGreaterThanOrEqual(MAX_CRASHES + 1);
    expect(deaths.length).toBeLessThanOrEqual(maxDeaths(4));
    for (const died of deaths) {
      expect(died.code === 0 && died.signal === null, `a run died: code ${died.code}, signal ${died.signal}`).toBe(false);
      expect(died.stderr).toMatch(/heap out of memory/i);
    }
    expect(JSON.parse((results[results.length - 1] as CliResult).stdout)).toMatchObject({
      status: 'completed',
      succeeded: RECORDS - 1,
      failed: 1,
      pending: 0,
    });

    const failed = await failures(dir);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ key: String(CRASHER), status: 'failed', kind: 'crashed' });
    expect(failed[0]?.error.crashes).toBe(MAX_CRASHES);
    expect(await status(dir)).toMatchObject({ total: RECORDS, succeeded: RECORDS - 1, failed: 1, pending: 0 });
    expect(readCalls(dir).filter((c) => c.id === CRASHER)).toHaveLength(deaths.length);
  }, 120_000);
});

describePg('crash quarantine over the PostgreSQL ledger (real process)', () => {
  pgPool();
  // The same bisection with notes that are a round trip each: the engine waits for them.
  it(
    'fails a record that calls process.exit after 3 crashes alone (concurrency 8), never calls it again, and blames no neighbour',
    () => quarantinesExit(8, ['--ledger', PG_URL, '--pg-schema', freshSchema('bg_e2e_quarantine')]),
    180_000,
  );
});
