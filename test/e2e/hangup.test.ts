/**
 * SIGHUP (the terminal or the ssh session a run was started from went away) stops a run as
 * SIGTERM does: no new records, the running ones finish, what is recorded is saved with the
 * summary and the run's reports, and the CLI exits 129. Before, Node's default action ended the
 * process at once: no summary, the run shown as crashed, the last batch redone. Under a real
 * pseudo-terminal whose other end closes, the writes that follow (the summary) fail with EIO,
 * which must not turn the stop into an error either.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { RunRecord } from '../../src/ledger/ledger.js';
import { BIN, spawnCli, waitFor, within, writeJsonl } from '../helpers/cli.js';
import { killLeftovers } from '../helpers/pg-stop.js';
import { withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

function writeJob(dir: string): string {
  writeJsonl(dir, 'records.jsonl', 20_000);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'hangup',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 2,
  checkpoint: { everyRecords: 20, everyMs: 50 },
  handler: async () => { await new Promise((resolve) => setTimeout(resolve, 5)); },
});
`,
  );
  return join(dir, '.batchguard', 'hangup.sqlite');
}

async function runs(ledger: string): Promise<RunRecord[]> {
  return withStoredLedger(ledger, (stored) => stored.runs(10));
}

async function firstCommit(ledger: string): Promise<void> {
  await waitFor(
    async () => existsSync(ledger) && (await withStoredLedger(ledger, async (s) => (await s.counts()).succeeded).catch(() => 0)) > 0,
    60_000,
  );
}

it('SIGHUP stops a run gracefully: its summary is saved and the CLI exits 129', async () => {
  const dir = tempDir();
  const ledger = writeJob(dir);
  const run = spawnCli(['run', 'job.mjs', '--json', '--no-progress'], { cwd: dir });
  try {
    await firstCommit(ledger);
    run.kill('SIGHUP');
    const result = await within(run.result, 60_000, 'the run after SIGHUP');
    expect(result.signal).toBeNull();
    expect(result.code, result.stderr).toBe(129);
    expect(result.stderr).toContain('SIGHUP: no new records');
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'interrupted' });
    expect((await runs(ledger)).map((r) => r.status)).toEqual(['interrupted']);
  } finally {
    killLeftovers([run]);
  }
}, 120_000);

it('a run in a pseudo-terminal that is closed under it stops gracefully, its writes to the dead terminal dropped', async () => {
  const dir = tempDir();
  const ledger = writeJob(dir);
  // `script` gives the run a terminal; killing `script` closes the terminal's other end, so the
  // kernel hangs up the run (SIGHUP) and its writes to the terminal fail with EIO from then on.
  const terminal = spawn('script', ['-qfec', `${process.execPath} ${BIN} run job.mjs`, '/dev/null'], {
    cwd: dir,
    stdio: 'ignore',
    env: { ...process.env, BATCHGUARD_LOG_FORMAT: 'pretty' },
  });
  try {
    await firstCommit(ledger);
    terminal.kill('SIGKILL');
    await waitFor(async () => (await runs(ledger))[0]?.status !== 'running', 20_000);
    const [last] = await runs(ledger);
    expect(last?.status).toBe('interrupted');
    // The run's reports were written: it ended through its summary, not by a signal's default action.
    expect(existsSync(join(dir, '.batchguard', 'hangup.runs', last!.runId, 'summary.json'))).toBe(true);
  } finally {
    killLeftovers([terminal]);
  }
}, 120_000);
