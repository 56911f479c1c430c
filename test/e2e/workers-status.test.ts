/**
 * `status`, `runs` and the dashboard's snapshot of a job whose shared run workers are on now: the
 * run is `running` (not `crashed`: no process holds the job's single-run lease, the workers hold
 * chunks), `status` names the workers, and once the run has ended its row has its figures (records,
 * failures, elapsed, records/s) as a single run's has. A shared run that no worker is on any more
 * is `interrupted` when its workers were stopped (Ctrl-C gives the chunk back, and the next worker
 * takes it over at once), and `crashed` when they were killed (the chunk's lease expired unrenewed).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { dashboardSnapshot } from '../../src/report/dashboard-snapshot.js';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 600;

/**
 * A job whose handler appends each id to `seen` and waits DELAY_MS (20 ms: the run lasts a few
 * seconds); with GATE (a file) in its environment, the records from id 60 on also wait while that
 * file exists, so that the test looks at the run while it surely runs.
 */
function writeJob(dir: string): void {
  writeJsonl(dir, 'records.jsonl', RECORDS);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { appendFileSync, existsSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
const delayMs = Number(process.env.DELAY_MS ?? 20);
export default defineJob({
  name: 'workers-status',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  handler: async (r) => {
    appendFileSync(${JSON.stringify(join(dir, 'seen'))}, r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    while (process.env.GATE && r.id >= 60 && existsSync(process.env.GATE)) await new Promise((resolve) => setTimeout(resolve, 20));
    if (r.id % 100 === 7) throw new Error('bad record ' + r.id);
  },
  retry: { maxAttempts: 1 },
});
`,
  );
}

function seen(dir: string): number {
  try {
    return readFileSync(join(dir, 'seen'), 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
}

interface StatusJson {
  active: { runId: string; shared?: boolean; workers?: number; chunks?: number; chunksDone?: number } | null;
  runs: { runId: string; status: string; records?: number; failed?: number; elapsedMs?: number; recordsPerSecond?: number }[];
}

describePg('status of a shared run', () => {
  pgPool();

  it('is running while a worker holds its chunks, names the workers, and has its figures once it ended', async () => {
    const dir = tempDir();
    writeJob(dir);
    const schema = freshSchema('bg_e2e_wstatus');
    const ledgerArgs = ['--ledger', PG_URL, '--pg-schema', schema];
    const gate = join(dir, 'gate');
    writeFileSync(gate, '');
    const worker = spawnCli(['run', 'job.mjs', ...ledgerArgs, '--records-per-chunk', '100', '--max-failure-rate', '1'], {
      cwd: dir,
      env: { GATE: gate },
    });
    try {
      await waitFor(() => seen(dir) >= 40, 60_000);
      const during = await runCli(['status', 'job.mjs', ...ledgerArgs, '--json'], { cwd: dir });
      expect(during.code, during.stderr).toBe(0);
      const live = JSON.parse(during.stdout) as StatusJson;
      expect(live.runs[0]?.status).toBe('running');
      expect(live.active).toMatchObject({ runId: live.runs[0]?.runId, shared: true, workers: 1 });
      const text = await runCli(['status', 'job.mjs', ...ledgerArgs], { cwd: dir });
      expect(text.stdout).toMatch(/active: shared run \S+ \(1 worker holds chunks; \d+ of 6 chunks done\)/);
      const listed = await runCli(['runs', 'job.mjs', ...ledgerArgs, '--json'], { cwd: dir });
      expect(JSON.parse(listed.stdout.trim().split('\n')[0]!)).toMatchObject({ status: 'running' });
      const { ledger } = openLedger(PG_URL, { job: 'workers-status', pgSchema: schema });
      try {
        const snapshot = await dashboardSnapshot(ledger, 'workers-status', 'job.mjs', 'batchguard');
        expect(snapshot.runs[0]?.status).toBe('running');
      } finally {
        await ledger.close();
      }
    } finally {
      rmSync(gate, { force: true });
      const result = await worker.result;
      expect(result.code, result.stderr).toBe(0);
    }

    const after = JSON.parse((await runCli(['status', 'job.mjs', ...ledgerArgs, '--json'], { cwd: dir })).stdout) as StatusJson;
    expect(after.active).toBeNull();
    const run = after.runs[0];
    expect(run).toMatchObject({ status: 'completed', records: RECORDS, failed: 6 });
    expect(run?.elapsedMs).toBeGreaterThan(0);
    expect(run?.recordsPerSecond).toBeGreaterThan(0);
  });

  /** A job with a worker on it (`--lease`), once its handler was called 40 times; `status()` reads `status --json`. */
  async function workerOn(lease: string) {
    const dir = tempDir();
    writeJob(dir);
    const ledgerArgs = ['--ledger', PG_URL, '--pg-schema', freshSchema('bg_e2e_wstatus')];
    const worker = spawnCli(['run', 'job.mjs', ...ledgerArgs, '--records-per-chunk', '100', '--lease', lease], { cwd: dir });
    await waitFor(() => seen(dir) >= 40, 60_000);
    const status = async () =>
      JSON.parse((await runCli(['status', 'job.mjs', ...ledgerArgs, '--json'], { cwd: dir })).stdout) as StatusJson;
    return { dir, ledgerArgs, worker, status };
  }

  it('is interrupted once its only worker was stopped (Ctrl-C): at once, and the next worker takes its chunk over at once', async () => {
    // A lease of a minute: only a chunk given back is taken over within the test.
    const { dir, ledgerArgs, worker, status } = await workerOn('60s');
    worker.kill('SIGINT');
    expect((await worker.result).code).toBe(130);
    const stopped = await status();
    expect(stopped.active).toBeNull();
    expect(stopped.runs[0]?.status).toBe('interrupted');
    const next = await runCli(['run', 'job.mjs', ...ledgerArgs, '--lease', '60s', '--json', '--max-failure-rate', '1'], { cwd: dir });
    expect(next.code, next.stderr).toBe(0);
    expect(JSON.parse(next.stdout)).toMatchObject({ status: 'completed', runId: stopped.runs[0]?.runId, chunksTakenOver: 1, pending: 0 });
    expect(next.stderr).toMatch(/took chunk \d+ over \(\d+ records\) from a worker that stopped and gave it back/);
  });

  it('is crashed once every worker on it died (its chunk still leased, the lease expired)', async () => {
    // A short lease, so that the dead worker's chunks are free again soon.
    const { worker, status } = await workerOn('1s');
    worker.kill('SIGKILL');
    await worker.result;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const dead = await status();
    expect(dead.active).toBeNull();
    expect(dead.runs[0]?.status).toBe('crashed');
  });
});
