/**
 * Dependencies through the real CLI: a 50,000-record forest with deterministic failures (every
 * descendant of a failure skipped with its chain, then unblocked by `rerun --failed`), a SIGKILL in
 * the middle of a chain and its resume, and a cycle refused with exit code 2.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor } from '../helpers/cli.js';
import { expectOneOutcomeEach, rowsOf, withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

interface Rec {
  id: string;
  /** Global number of the record, which decides whether it fails. */
  n: number;
  deps: string[];
}

/** The job's rule: a deterministic FAIL_PERCENT % of the records fail fatally. */
const fails = (n: number, percent: number): boolean => (Math.imul(n, 2654435761) >>> 0) % 100 < percent;

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : []);

function writeJob(dir: string, name: string, options: { concurrency: number; checkpoint: number; handler: string }): void {
  writeFileSync(
    join(dir, 'job.ts'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, FatalError } from 'batchguard';

interface Rec { id: string; n: number; deps: string[] }
const FAIL_PERCENT = Number(process.env.FAIL_PERCENT ?? 0);
const fails = (n: number): boolean => (Math.imul(n, 2654435761) >>> 0) % 100 < FAIL_PERCENT;
const log = (line: string): void => { if (process.env.CALLS_FILE) appendFileSync(process.env.CALLS_FILE, line + '\\n'); };

export default defineJob({
  name: ${JSON.stringify(name)},
  source: jsonl<Rec>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => r.id,
  dependsOn: (r) => r.deps,
  concurrency: ${options.concurrency},
  maxFailureRate: 1,
  checkpoint: { everyRecords: ${options.checkpoint}, everyMs: 60_000 },
  handler: async (r) => {
    ${options.handler}
  },
});
`,
  );
}

/**
 * 5,000 trees of 10: chains (depth 9), stars (depth 1), binary trees (depth 3) and random trees;
 * written in order, children first, shuffled, or with the root at the very end of the file.
 */
function writeForest(dir: string, trees: number) {
  const parent = new Map<string, string | undefined>();
  const records: Rec[] = [];
  const late: Rec[] = [];
  let n = 0;
  let seed = 12345;
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  for (let t = 0; t < trees; t++) {
    const tree: Rec[] = [];
    for (let j = 0; j < 10; j++) {
      const shape = t % 4;
      const p = j === 0 ? undefined : shape === 0 ? j - 1 : shape === 1 ? 0 : shape === 2 ? (j - 1) >> 1 : Math.floor(random() * j);
      const id = `t${t}.${j}`;
      const parentId = p === undefined ? undefined : `t${t}.${p}`;
      parent.set(id, parentId);
      tree.push({ id, n: n++, deps: parentId ? [parentId] : [] });
    }
    const order = Math.floor(t / 4) % 4;
    if (order === 1) tree.reverse();
    if (order === 2) {
      for (let i = tree.length - 1; i > 0; i--) {
        const k = Math.floor(random() * (i + 1));
        [tree[i], tree[k]] = [tree[k] as Rec, tree[i] as Rec];
      }
    }
    if (order === 3 && t % 7 === 0) late.push(tree.shift() as Rec);
    records.push(...tree);
  }
  records.push(...late);
  writeFileSync(join(dir, 'records.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  return { records, parent };
}

describe('dependencies through the CLI', () => {
  it('skips exactly the descendants of failures, with their chains, and rerun --failed unblocks them all', async () => {
    const dir = tempDir();
    const { records, parent } = writeForest(dir, 5000);
    const total = records.length;
    expect(total).toBe(50_000);
    writeJob(dir, 'forest', {
      concurrency: 8,
      checkpoint: 2000,
      handler: `log(r.id);
    if (fails(r.n)) throw new FatalError('record ' + r.id + ' is bad');`,
    });

    // What must happen: a record with a failing ancestor is skipped, blocked by the chain from its
    // parent up to the topmost failing ancestor (the one that ran and failed); a failing record
    // with no failing ancestor fails; every other record succeeds.
    const failing = new Set(records.filter((r) => fails(r.n, 1)).map((r) => r.id));
    expect(failing.size).toBeGreaterThan(400);
    expect(failing.size).toBeLessThan(600);
    const expectedFailed = new Set<string>();
    const expectedSkipped = new Map<string, string[]>();
    for (const { id } of records) {
      const ancestors: string[] = [];
      for (let at = parent.get(id); at !== undefined; at = parent.get(at)) ancestors.push(at);
      let top = -1;
      ancestors.forEach((a, i) => {
        if (failing.has(a)) top = i;
      });
      if (top >= 0) expectedSkipped.set(id, ancestors.slice(0, top + 1));
      else if (failing.has(id)) expectedFailed.add(id);
    }
    expect(expectedSkipped.size).toBeGreaterThan(1000);

    const first = await runCli(['run', 'job.ts', '--json'], { cwd: dir, env: { FAIL_PERCENT: '1' } });
    expect(first.stderr).not.toMatch(/\n\s+at /);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      status: 'completed',
      total,
      failed: expectedFailed.size,
      skipped: expectedSkipped.size,
      pending: 0,
      succeeded: total - expectedFailed.size - expectedSkipped.size,
    });

    const report = await runCli(['failures', 'job.ts', '--format', 'jsonl'], { cwd: dir });
    expect(report.code).toBe(0);
    const reported = report.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    const skippedLines = reported.filter((line) => line.status === 'skipped');
    const failedLines = reported.filter((line) => line.status === 'failed');
    expect(reported).toHaveLength(skippedLines.length + failedLines.length);
    expect(new Set(failedLines.map((line) => line.key))).toEqual(expectedFailed);
    for (const line of failedLines) expect(line).toMatchObject({ kind: 'fatal', attempts: 1 });
    expect(skippedLines).toHaveLength(expectedSkipped.size);
    const lineOf = new Map(records.map((r, i) => [r.id, i + 1]));
    for (const line of skippedLines) {
      expect(Object.keys(line).sort()).toEqual(['blockedBy', 'failedAt', 'key', 'runId', 'source', 'status']);
      expect(line.blockedBy).toEqual(expectedSkipped.get(line.key));
      expect(line.source.line).toBe(lineOf.get(line.key));
      expect(Number.isNaN(Date.parse(line.failedAt))).toBe(false);
    }

    // The handler is fixed: rerun --failed redoes the failures and the skipped records, each after its parent.
    const calls = join(dir, 'rerun-calls.log');
    const rerun = await runCli(['rerun', 'job.ts', '--failed', '--json'], { cwd: dir, env: { FAIL_PERCENT: '0', CALLS_FILE: calls } });
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({
      status: 'completed',
      total,
      succeeded: total,
      failed: 0,
      skipped: 0,
      pending: 0,
      thisRun: { succeeded: expectedFailed.size + expectedSkipped.size, failed: 0, skipped: 0 },
    });
    const called = lines(calls);
    expect(new Set(called)).toEqual(new Set([...expectedFailed, ...expectedSkipped.keys()]));
    expect(called).toHaveLength(expectedFailed.size + expectedSkipped.size);
    const at = new Map(called.map((id, i) => [id, i]));
    for (const id of expectedSkipped.keys()) {
      const parentId = parent.get(id) as string;
      if (at.has(parentId)) expect(at.get(parentId)).toBeLessThan(at.get(id) as number);
    }

    const status = await runCli(['status', 'job.ts', '--json'], { cwd: dir });
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ total, succeeded: total, failed: 0, skipped: 0, pending: 0, sourceExhausted: true });
    const none = await runCli(['failures', 'job.ts', '--format', 'jsonl'], { cwd: dir });
    expect(none.stdout.trim()).toBe('');
  }, 120_000);

  it('resumes a chain after SIGKILL: each record succeeds once, and only ever runs after its parent succeeded', async () => {
    const dir = tempDir();
    const n = 3000;
    // The chain k0 ← k1 ← … ← k2999; the file holds its last 1,000 records first (children
    // before their parents), then k0 … k1999.
    const records: Rec[] = Array.from({ length: n }, (_, i) => ({ id: `k${i}`, n: i, deps: i === 0 ? [] : [`k${i - 1}`] }));
    const ordered = [...records.slice(2000).reverse(), ...records.slice(0, 2000)];
    writeFileSync(join(dir, 'records.jsonl'), `${ordered.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const side = join(dir, 'side.log');
    writeJob(dir, 'chain', {
      concurrency: 4,
      checkpoint: 100,
      handler: `log('start ' + r.id);
    await new Promise((resolve) => setTimeout(resolve, 1));
    log('ok ' + r.id);`,
    });
    const first = spawnCli(['run', 'job.ts', '--no-progress'], { cwd: dir, env: { CALLS_FILE: side } });
    await waitFor(() => lines(side).length >= 2 * 1200, 60_000);
    first.kill('SIGKILL');
    const killed = await first.result;
    expect(killed.signal).toBe('SIGKILL');
    const before = lines(side).filter((line) => line.startsWith('ok ')).length;
    expect(before).toBeLessThan(n);

    const second = await runCli(['run', 'job.ts', '--json'], { cwd: dir, env: { CALLS_FILE: side } });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('resuming');
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'completed', total: n, succeeded: n, failed: 0, skipped: 0, pending: 0 });

    // Exactly one outcome per record: disjoint success ranges covering every seq, no other row.
    await withStoredLedger(join(dir, '.batchguard', 'chain.sqlite'), async (stored) => {
      expect(await rowsOf(stored)).toEqual([]);
      await expectOneOutcomeEach(stored, n);
    });

    // The handler was called for each record only after its parent's first successful call.
    const log = lines(side);
    const firstStart = new Map<string, number>();
    const firstOk = new Map<string, number>();
    log.forEach((line, i) => {
      const [what, id] = line.split(' ') as [string, string];
      const seen = what === 'start' ? firstStart : firstOk;
      if (!seen.has(id)) seen.set(id, i);
    });
    expect(firstOk.size).toBe(n);
    for (let i = 1; i < n; i++) {
      expect(firstStart.get(`k${i}`)).toBeGreaterThan(firstOk.get(`k${i - 1}`) as number);
    }
    // The redone calls are bounded by a checkpoint batch plus what was in flight.
    const oks = log.filter((line) => line.startsWith('ok ')).length;
    expect(oks - n).toBeLessThanOrEqual(100 + 4);
  }, 120_000);

  it('refuses a cycle with exit code 2, naming it, without a stack trace', async () => {
    const dir = tempDir();
    const records: Rec[] = [
      ...Array.from({ length: 5 }, (_, i) => ({ id: `x${i}`, n: i, deps: [] })),
      { id: 'a', n: 5, deps: ['b'] },
      { id: 'b', n: 6, deps: ['c'] },
      { id: 'c', n: 7, deps: ['a'] },
      { id: 'y', n: 8, deps: [] },
    ];
    writeFileSync(join(dir, 'records.jsonl'), `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    writeJob(dir, 'cycle', { concurrency: 2, checkpoint: 100, handler: 'log(r.id);' });
    const calls = join(dir, 'calls.log');
    const result = await runCli(['run', 'job.ts', '--no-progress'], { cwd: dir, env: { CALLS_FILE: calls } });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('dependency cycle: c → a → b → c');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect(result.stderr).not.toContain('This is a bug in batchguard');
    expect(lines(calls).filter((id) => ['a', 'b', 'c', 'y'].includes(id))).toEqual([]);
    // What ran before the cycle was found is recorded.
    const status = await runCli(['status', 'job.ts', '--json'], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ succeeded: lines(calls).length, failed: 0, skipped: 0 });
  }, 60_000);
});
