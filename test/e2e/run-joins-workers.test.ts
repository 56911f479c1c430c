/**
 * A plain `run --ledger postgres://…` joins the job's shared run as a worker (no `--worker`):
 * several such processes share one run, each exits 0 with the run's figures at the top of its
 * `--json` summary, and each logs what it joined without the URL's password. A job that cannot be
 * shared runs as one process and says why, and a single-process run and workers never run side by
 * side: whichever comes second exits 4 with one line saying why.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_CONFIG } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

const PASSWORD = 'n0t-Shown-pw';
/** Trust auth ignores the password: it is there to be kept out of every line. */
const URL_WITH_PASSWORD = `postgres://${PG_CONFIG.user}:${PASSWORD}@${PG_CONFIG.host}:${PG_CONFIG.port}/${PG_CONFIG.database}`;
const JSON_LOG = { BATCHGUARD_LOG_FORMAT: '' };

/** A job whose handler notes each key it is given in a file of its process, and waits DELAY_MS. */
function writeJob(dir: string, records: number, options: { output?: boolean } = {}): void {
  writeJsonl(dir, 'records.jsonl', records);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, jsonlOutput } from 'batchguard';
const seen = ${JSON.stringify(join(dir, 'seen'))} + '-' + process.pid;
const delayMs = Number(process.env.DELAY_MS ?? 5);
export default defineJob({
  name: 'joins-workers',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 4,
  ${options.output ? `output: jsonlOutput(${JSON.stringify(join(dir, 'out.jsonl'))}),` : ''}
  handler: async (r) => {
    appendFileSync(seen, r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  },
});
`,
  );
}

/** Every key the handlers were given, over all processes. */
function keysSeen(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.startsWith('seen-'))
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));
}

function entries(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describePg('run over a PostgreSQL ledger joins the shared run', () => {
  pgPool();

  it('three plain runs share one run: every record once, each exits 0 with the run figures, and logs what it joined without the password', async () => {
    const dir = tempDir();
    const records = 1500;
    writeJob(dir, records);
    const schema = freshSchema('bg_e2e_joins');
    const args = ['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', schema, '--json', '--records-per-chunk', '100'];
    const results = await Promise.all([0, 1, 2].map(() => runCli(args, { cwd: dir, env: JSON_LOG })));

    const summaries = results.map((result) => {
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout + result.stderr).not.toContain(PASSWORD);
      return JSON.parse(result.stdout) as Record<string, unknown>;
    });
    // One run, whose figures every process reports at the top level, as a single run's summary.
    expect(new Set(summaries.map((s) => s.runId)).size).toBe(1);
    for (const summary of summaries) {
      expect(summary).toMatchObject({ status: 'completed', total: records, succeeded: records, failed: 0, skipped: 0, pending: 0 });
      expect(summary).toHaveProperty('chunksDone');
    }
    expect(summaries.filter((s) => s.planned === true)).toHaveLength(1);
    // Shared: the records given an outcome add up to the source, and more than one process had some.
    expect(summaries.reduce((sum, s) => sum + Number(s.records), 0)).toBe(records);
    expect(summaries.filter((s) => Number(s.records) > 0).length).toBeGreaterThan(1);
    // Each record was given to a handler once, over all processes.
    const seen = keysSeen(dir);
    expect(seen).toHaveLength(records);
    expect(new Set(seen).size).toBe(records);

    for (const [i, result] of results.entries()) {
      const joined = entries(result.stderr).filter((entry) => entry.event === 'worker:joined');
      expect(joined).toHaveLength(1);
      expect(joined[0]).toMatchObject({ runId: summaries[i]?.runId, worker: summaries[i]?.worker, level: 'info' });
      expect(String(joined[0]?.msg)).toMatch(
        /^(planned|joined) run \S+ \(1500 records in 15 chunks\) as worker \S+ on \S+; ledger postgres:\/\/postgres@/,
      );
      expect(entries(result.stderr).find((entry) => entry.event === 'run:summary')).toBeDefined();
    }

    const status = await runCli(['status', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', schema, '--json'], { cwd: dir });
    expect(JSON.parse(status.stdout)).toMatchObject({ total: records, succeeded: records, failed: 0, pending: 0 });
  }, 120_000);

  it('a job that cannot be shared (an output file) runs as one process and says why; a second process exits 4 saying why it did not join', async () => {
    const dir = tempDir();
    writeJob(dir, 400, { output: true });
    const schema = freshSchema('bg_e2e_joins_deps');
    const args = ['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', schema, '--no-progress'];
    const first = spawnCli(args, { cwd: dir, env: { DELAY_MS: '100' } });
    let firstErr = '';
    first.stderr?.on('data', (chunk) => (firstErr += chunk));
    try {
      await waitFor(() => keysSeen(dir).length > 0);
      const second = await runCli(args, { cwd: dir });
      expect(second.code, second.stderr).toBe(4);
      const lines = second.stderr.trim().split('\n');
      expect(lines[0]).toBe(
        'batchguard: running as one process, not as a worker: job joins-workers writes an output file, which several workers cannot share',
      );
      // It waited for the lease, and refused to run once its holder renewed it.
      expect(lines[1]).toMatch(/^batchguard: waiting for the ledger's lease, held by run \S+ \(pid \d+ on \S+\), to expire at /);
      expect(lines).toHaveLength(3);
      expect(lines[2]).toMatch(/^batchguard: error: the ledger postgres:\/\/postgres@\S+ is held by run /);
      expect(lines[2]).toContain('This process ran as one process, not as a worker, because job joins-workers writes an output file');
      expect(second.stderr).not.toContain(PASSWORD);
    } finally {
      first.kill('SIGTERM');
    }
    const done = await first.result;
    expect(done.code).toBe(143);
    expect(firstErr.split('\n')[0]).toContain('running as one process, not as a worker: job joins-workers writes an output file');
  }, 120_000);

  it('a worker refuses to join beside a single-process run, and a single-process run refuses to run beside workers (exit 4, one line)', async () => {
    const dir = tempDir();
    writeJob(dir, 400);
    // Two folders of the same job, so that each half waits for its own first process's handler.
    const other = tempDir();
    writeJob(other, 400);
    const env = { DELAY_MS: '100' };

    const single = freshSchema('bg_e2e_joins_single');
    const one = spawnCli(['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', single, '--no-worker', '--no-progress'], {
      cwd: dir,
      env,
    });
    try {
      await waitFor(() => keysSeen(dir).length > 0);
      const worker = await runCli(['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', single], { cwd: dir });
      expect(worker.code, worker.stderr).toBe(4);
      expect(worker.stderr).toMatch(
        /^batchguard: error: job joins-workers is being run by one process, which a worker cannot join: run \S+ \(pid \d+ on \S+, since \S+\) holds the ledger postgres:\/\/postgres@\S+ \(schema \w+\)\. Let that run finish \(or stop it\) and run again\n$/,
      );
    } finally {
      one.kill('SIGTERM');
    }
    expect((await one.result).code).toBe(143);

    const shared = freshSchema('bg_e2e_joins_shared');
    const worker = spawnCli(['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', shared, '--no-progress'], { cwd: other, env });
    try {
      // A handler runs: the worker holds the run's one chunk.
      await waitFor(() => keysSeen(other).length > 0);
      const alone = await runCli(['run', 'job.mjs', '--ledger', URL_WITH_PASSWORD, '--pg-schema', shared, '--no-worker'], { cwd: other });
      expect(alone.code, alone.stderr).toBe(4);
      expect(alone.stderr).toMatch(
        /^batchguard: error: job joins-workers cannot run as one process now: 1 worker holds chunks of its shared run \S+ \(0 of 1 chunks done\) on the ledger postgres:\/\/postgres@\S+ \(schema \w+\), and this run is not a worker because --no-worker was given\. Let the shared run finish \(or stop its workers\) and run again, or run without --no-worker to join it as a worker\n$/,
      );
    } finally {
      worker.kill('SIGTERM');
    }
    expect((await worker.result).code).toBe(143);
  }, 120_000);
});
