/**
 * The run lease with real processes: a run killed as PID 1 of a PID namespace (a restarted
 * container) is taken over by the next PID 1; a SIGSTOPped holder is taken over, and once continued
 * it stops with exit 4 without writing. The books balance: one outcome per record, one output line
 * per success.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { LeaseHolder, RunRecord } from '../../src/ledger/ledger.js';
import { BIN, runCli, spawnCli, waitFor, writeJsonl, type CliResult } from '../helpers/cli.js';
import { withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 400;

function canUnshare(): boolean {
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const UNSHARE = canUnshare();

function writeJob(dir: string): { ledger: string; output: string } {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  const output = join(dir, 'out.jsonl');
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
export default defineJob({
  name: 'lease-test',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  maxFailureRate: 1,
  checkpoint: { everyRecords: 20, everyMs: 50 },
  output: jsonlOutput(${JSON.stringify(output)}),
  handler: async (r) => {
    await new Promise((resolve) => setTimeout(resolve, 15));
    if (r.id % 50 === 7) throw new Error('unlucky ' + r.id);
    return { id: r.id };
  },
});
`,
  );
  return { ledger: join(dir, '.batchguard', 'lease-test.sqlite'), output };
}

/** The CLI as PID 1 of a new PID namespace, as in a container. */
function spawnInNamespace(args: string[], cwd: string): ChildProcess & { result: Promise<CliResult> } {
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, BIN, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const result = new Promise<CliResult>((done) => child.on('close', (code, signal) => done({ code, signal, stdout, stderr })));
  return Object.assign(child, { result });
}

/** The node process that unshare forked (PID 1 inside the namespace), by its pid outside. */
function namespaceInit(unsharePid: number): number {
  const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  if (children.length !== 1) throw new Error(`unshare has ${children.length} children`);
  return Number(children[0]);
}

/** The lease in force on the ledger, if any (none while the file is being created). */
async function lease(ledger: string): Promise<LeaseHolder | undefined> {
  if (!existsSync(ledger)) return undefined;
  try {
    return await withStoredLedger(ledger, (stored) => stored.holder());
  } catch {
    return undefined;
  }
}

/** The ledger's runs, oldest first. */
function runsOf(ledger: string): Promise<RunRecord[]> {
  return withStoredLedger(ledger, async (stored) => (await stored.runs(10)).reverse());
}

function outputIds(output: string): number[] {
  const text = readFileSync(output, 'utf8');
  return text.trim() === ''
    ? []
    : text
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: number }).id);
}

async function expectBooksBalance(dir: string, output: string): Promise<void> {
  const status = await runCli(['status', 'job.mjs', '--json'], { cwd: dir });
  expect(status.code).toBe(0);
  const counts = JSON.parse(status.stdout) as { total: number; succeeded: number; failed: number; pending: number };
  expect(counts).toMatchObject({ total: RECORDS, pending: 0 });
  const failing = Array.from({ length: RECORDS }, (_, id) => id).filter((id) => id % 50 === 7).length;
  expect(counts.failed).toBe(failing);
  expect(counts.succeeded).toBe(RECORDS - failing);
  const ids = outputIds(output);
  expect(ids).toHaveLength(RECORDS - failing);
  expect(new Set(ids).size).toBe(ids.length);
}

/**
 * Whether another process holds SQLite's write lock on the ledger right now. Raw SQLite on purpose:
 * the lock is the backend's own, which no Ledger method shows.
 */
function writeLocked(ledger: string): boolean {
  const db = new Database(ledger, { timeout: 0 });
  try {
    db.exec('BEGIN IMMEDIATE');
    db.exec('ROLLBACK');
    return false;
  } catch {
    return true;
  } finally {
    db.close();
  }
}

describe('run lease across real processes', () => {
  // Skipped only where `unshare --pid` is not permitted (it needs root or user namespaces).
  it.skipIf(!UNSHARE)(
    'a run SIGKILLed as PID 1 of a PID namespace is taken over by the next PID 1',
    async () => {
      const dir = tempDir();
      const { ledger, output } = writeJob(dir);
      const first = spawnInNamespace(['run', 'job.mjs', '--lease', '2s', '--no-progress', '--quiet'], dir);
      await waitFor(() => (existsSync(output) && statSync(output).size > 500) || first.exitCode !== null, 60_000);
      expect(await lease(ledger)).toMatchObject({ pid: 1, token: 1 });
      process.kill(namespaceInit(first.pid as number), 'SIGKILL');
      await first.result;

      const second = await spawnInNamespace(['run', 'job.mjs', '--lease', '2s', '--json'], dir).result;
      expect(second.stderr).not.toContain('held by');
      expect(second.code).toBe(0);
      const runs = (await runsOf(ledger)).map(({ status, pid }) => ({ status, pid }));
      expect(runs).toEqual([
        { status: 'crashed', pid: 1 },
        { status: 'completed', pid: 1 },
      ]);
      await expectBooksBalance(dir, output);
    },
    120_000,
  );

  it('a SIGSTOPped holder is taken over; continued, it stops with exit 4 and writes nothing', async () => {
    const dir = tempDir();
    const { ledger, output } = writeJob(dir);
    const frozen = spawnCli(['run', 'job.mjs', '--lease', '2s', '--no-progress'], { cwd: dir });
    await waitFor(() => (existsSync(output) && statSync(output).size > 500) || frozen.exitCode !== null, 60_000);
    expect(frozen.exitCode).toBeNull();
    // Frozen outside a commit: a process stopped inside one keeps SQLite's own write lock (see
    // docs/leases.md), which no lease can take.
    for (;;) {
      frozen.kill('SIGSTOP');
      await new Promise((r) => setTimeout(r, 20));
      if (!writeLocked(ledger)) break;
      frozen.kill('SIGCONT');
      await new Promise((r) => setTimeout(r, 5));
    }
    const frozenRun = (await lease(ledger))?.runId;

    const taker = spawnCli(['run', 'job.mjs', '--lease', '2s', '--json'], { cwd: dir });
    // The taker waits for the lease to expire, takes it, and works: then the frozen run wakes up.
    await waitFor(async () => {
      const l = await lease(ledger);
      return l !== undefined && l.runId !== frozenRun;
    }, 60_000);
    const sizeAtTakeover = statSync(output).size;
    await waitFor(() => statSync(output).size > sizeAtTakeover + 200 || taker.exitCode !== null, 60_000);
    frozen.kill('SIGCONT');
    const woken = await frozen.result;
    expect(woken.code).toBe(4);
    expect(woken.stderr).toContain(`this run (${frozenRun}, token 1) lost its lease`);
    expect(woken.stderr).toContain('stopped without writing anything more');

    const took = await taker.result;
    expect(took.code).toBe(0);
    const runs = (await runsOf(ledger)).map(({ runId, status }) => ({ runId, status }));
    expect(runs).toEqual([
      { runId: frozenRun, status: 'crashed' },
      { runId: expect.any(String), status: 'completed' },
    ]);
    await expectBooksBalance(dir, output);
  }, 120_000);
});
