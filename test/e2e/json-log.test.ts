/**
 * The log as a collector reads it: the real CLI with stderr on a pipe and no format asked for
 * writes JSON lines only, one entry per record failure (key, fingerprint, kind, attempt), retries
 * and `ctx.log` lines at debug, and the summary as one entry equal to the `--json` summary. No
 * secret reaches the log: not the password of a postgres:// ledger URL, not an authorization
 * header inside an error, nor one among a handler's log fields.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_CONFIG } from '../helpers/pg-schema.js';
import { tempDir } from '../helpers/temp.js';

/** The default format: the helper's pretty log switched off. */
const DEFAULT_LOG = { BATCHGUARD_LOG_FORMAT: '', BATCHGUARD_LOG_LEVEL: '' };

type Entry = Record<string, unknown> & { level: string; event?: string; msg: string };

/** Every stderr line as JSON (a line that is not JSON fails the test here). */
function entries(stderr: string): Entry[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Entry;
      } catch {
        throw new Error(`stderr has a line that is not JSON: ${line}`);
      }
    });
}

/**
 * 30 records and one line that is not JSON: records 3, 13, 23 fail for good with a message that
 * quotes a bearer token and a database URL; 5, 15, 25 fail their first attempt; every call logs
 * a header without a scheme word and the ledger's URL among its fields.
 */
function job(dir: string): void {
  writeJsonl(dir, 'records.jsonl', 30);
  writeFileSync(join(dir, 'records.jsonl'), '{"id": 30, broken\n', { flag: 'a' });
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl, FatalError, RetryableError } from 'batchguard';
// Assembled at run time, so that not even the job file holds the secrets verbatim.
const token = 'tok' + '_live_' + 'Qx81Zp0';
const bare = 'bare' + '-Header-' + 'Value77';
export default defineJob({
  name: 'json-log',
  source: jsonl('records.jsonl'),
  key: (r) => String(r.id),
  retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 1 } },
  breaker: { enabled: false },
  maxFailureRate: 0.05,
  handler: async (r, ctx) => {
    ctx.log('calling the API', { ledger: process.env.LEDGER_URL, headers: { authorization: bare, accept: 'application/json' } });
    if (r.id % 10 === 3) throw new FatalError('rejected: Authorization: Bearer ' + token + ' on ' + process.env.LEDGER_URL);
    if (r.id % 10 === 5 && ctx.attempt === 1) throw new RetryableError('busy, try again');
    return r;
  },
});
`,
  );
}

describePg('the JSON log', () => {
  pgPool();

  it('has only JSON lines: each failure, retries at debug, the summary equal to --json; no secret', async () => {
    const dir = tempDir();
    job(dir);
    const password = 'pg-' + 'Pw-' + '5f1e';
    const url = `postgres://${PG_CONFIG.user}:${password}@${PG_CONFIG.host}:${PG_CONFIG.port}/${PG_CONFIG.database}`;
    const schema = freshSchema('bg_jsonlog');
    const ledger = ['--ledger', url, '--pg-schema', schema];
    // One process: this is the single run's log (a worker's is test/e2e/run-joins-workers.test.ts).
    const run = await runCli(['run', 'job.mjs', ...ledger, '--no-worker', '--json', '--log-level', 'debug'], {
      cwd: dir,
      env: { ...DEFAULT_LOG, LEDGER_URL: url },
    });
    expect(run.code, run.stderr).toBe(1);
    const summary = JSON.parse(run.stdout) as { runId: string; failed: number; topErrors: { fingerprint: string; kind: string }[] };
    const log = entries(run.stderr);

    // Every entry names the job; from the start of the run on, the run too.
    expect(log.every((entry) => entry.job === 'json-log' && entry.name === 'batchguard')).toBe(true);
    expect(log.filter((entry) => entry.runId !== summary.runId)).toEqual([]);

    const failures = log.filter((entry) => entry.event === 'record:failed');
    expect(failures.map((entry) => entry.key).sort()).toEqual(['13', '23', '3', '@line:31'].sort());
    const fatal = summary.topErrors.find((group) => group.kind === 'fatal') as { fingerprint: string };
    expect(failures.find((entry) => entry.key === '13')).toMatchObject({
      level: 'warn',
      fingerprint: fatal.fingerprint,
      kind: 'fatal',
      attempt: 1,
      error: { name: 'FatalError' },
    });
    expect(failures.find((entry) => entry.kind === 'invalid')).toMatchObject({ level: 'warn', attempt: 0 });
    // The same fingerprint as the failure report's.
    const report = await runCli(['failures', 'job.mjs', ...ledger, '--format', 'jsonl'], { cwd: dir });
    const row = report.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { key: string; fingerprint: string })
      .find((r) => r.key === '13');
    expect(row?.fingerprint).toBe(fatal.fingerprint);

    expect(log.filter((entry) => entry.event === 'record:retrying').map((entry) => [entry.level, entry.key, entry.attempt])).toEqual(
      expect.arrayContaining([
        ['debug', '5', 1],
        ['debug', '15', 1],
        ['debug', '25', 1],
      ]),
    );
    const logged = log.find((entry) => entry.event === 'record:log' && entry.key === '0');
    expect(logged).toMatchObject({
      level: 'debug',
      msg: 'calling the API',
      fields: { headers: { authorization: '[redacted]', accept: 'application/json' } },
    });
    expect(log.find((entry) => entry.event === 'run:threshold-exceeded')).toMatchObject({ level: 'error', failed: 4 });

    const ends = log.filter((entry) => entry.event === 'run:summary');
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ level: 'info' });
    expect(ends[0]?.summary).toEqual(summary);
    expect(log.at(-1)?.event).toBe('run:summary');

    for (const secret of [password, 'tok_live_Qx81Zp0', 'bare-Header-Value77']) {
      expect(run.stderr, `${secret} in the log`).not.toContain(secret);
      expect(run.stdout, `${secret} on stdout`).not.toContain(secret);
    }
    expect(run.stderr).toContain(`postgres://${PG_CONFIG.user}:[redacted]@${PG_CONFIG.host}`);
  }, 120_000);
});

it('at the default level: no debug entries, and a failure at warn', async () => {
  const dir = tempDir();
  job(dir);
  const run = await runCli(['run', 'job.mjs', '--ledger', 'memory'], { cwd: dir, env: DEFAULT_LOG });
  expect(run.code).toBe(1);
  const log = entries(run.stderr);
  expect(new Set(log.map((entry) => entry.level))).toEqual(new Set(['info', 'warn', 'error']));
  expect(log.filter((entry) => entry.event === 'record:failed')).toHaveLength(4);
  expect(run.stdout).toContain('json-log threshold-exceeded');
}, 60_000);

it('the error that ends the command is a fatal entry, its exit code beside it', async () => {
  const dir = tempDir();
  job(dir);
  const run = await runCli(['run', 'job.mjs', '--ledger', 'postgres://app:hunter2@127.0.0.1:1/jobs'], { cwd: dir, env: DEFAULT_LOG });
  expect(run.code).toBe(4);
  const [entry, ...rest] = entries(run.stderr);
  expect(rest).toEqual([]);
  expect(entry).toMatchObject({ level: 'fatal', event: 'run:error', exitCode: 4 });
  expect(entry?.msg).toContain('PostgreSQL ledger postgres://app@127.0.0.1:1/jobs (schema batchguard): opening the ledger failed');
  expect(run.stderr).not.toContain('hunter2');

  const badLevel = await runCli(['run', 'job.mjs', '--ledger', 'memory'], {
    cwd: dir,
    env: { ...DEFAULT_LOG, BATCHGUARD_LOG_LEVEL: 'loud' },
  });
  expect(badLevel.code).toBe(2);
  expect(entries(badLevel.stderr)[0]?.msg).toBe('BATCHGUARD_LOG_LEVEL must be one of debug, info, warn, error, silent; got "loud"');
  const badFlag = await runCli(['run', 'job.mjs', '--log-format', 'xml'], { cwd: dir, env: DEFAULT_LOG });
  expect(badFlag.code).toBe(2);
  expect(badFlag.stderr).toContain("option '--log-format <format>' argument 'xml' is invalid. Allowed choices are json, pretty.");
}, 60_000);
