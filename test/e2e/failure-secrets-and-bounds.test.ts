/**
 * What a failure may leave behind, through the real CLI: no secret from an error reaches any file
 * under the ledger's folder, the reports, stdout or stderr; huge messages leave a bounded ledger and
 * bounded terminal output; keys with newlines and escape sequences are printed escaped and round-trip
 * through `failures --format keys` → `rerun --keys`.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}

const sizeUnder = (dir: string): number => filesUnder(dir).reduce((sum, path) => sum + statSync(path).size, 0);

describe('secrets in errors', () => {
  it('a URL password, a bearer token and an api_key value appear in no file, report, stdout or stderr', async () => {
    const dir = tempDir();
    // The secrets are assembled at run time, so that not even the job file holds them verbatim.
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, RetryableError } from 'batchguard';
const password = 'pw' + '-Hunter2-' + 'zq7';
const token = 'tok' + '_live_' + '9f8e7d6c5b4a';
const apiKey = 'key' + '-ABCD-' + '112233';
export default defineJob({
  name: 'secrets',
  source: Array.from({ length: 6 }, (_, id) => ({ id })),
  key: (r) => 'r' + r.id,
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 1 } },
  breaker: { enabled: false },
  maxFailureRate: 0.1,
  handler: async (r, ctx) => {
    ctx.log('calling https://admin:' + password + '@db.internal/x with Authorization: Bearer ' + token);
    if (r.id % 3 === 0) throw new Error('GET https://admin:' + password + '@db.internal:5432/orders failed');
    if (r.id % 3 === 1) throw new RetryableError('request rejected', { cause: new Error('headers: {"authorization":"Bearer ' + token + '"}') });
    throw Object.assign(new Error('GET /v1/geocode?q=Oslo&api_key=' + apiKey + ' returned 403'), { status: 403, hostname: 'x?api_key=' + apiKey });
  },
});
`,
    );
    const secrets = ['pw-Hunter2-zq7', 'tok_live_9f8e7d6c5b4a', 'key-ABCD-112233'];
    const ledger = ['--ledger', 'ledger/secrets.sqlite'];
    const outputs = [
      await runCli(['run', 'job.mjs', '--verbose', ...ledger], { cwd: dir }),
      await runCli(['run', 'job.mjs', '--json', ...ledger], { cwd: dir }),
      await runCli(['rerun', 'job.mjs', '--failed', '--json', '--verbose', ...ledger], { cwd: dir }),
      await runCli(['rerun', 'job.mjs', '--failed', ...ledger], { cwd: dir }),
      ...(await Promise.all(
        ['table', 'jsonl', 'csv', 'keys'].map((format) => runCli(['failures', 'job.mjs', '--format', format, ...ledger], { cwd: dir })),
      )),
      await runCli(['status', 'job.mjs', ...ledger], { cwd: dir }),
      await runCli(['status', 'job.mjs', '--json', ...ledger], { cwd: dir }),
      await runCli(['replay', 'job.mjs', 'r0', ...ledger], { cwd: dir }),
    ];
    // The run really failed with those errors (so there was something to leak).
    expect(outputs[0]?.code).toBe(1);
    expect(outputs[5]?.stdout).toContain('[redacted]');
    expect(outputs[0]?.stderr).toContain('https://admin:[redacted]@db.internal:5432/orders');
    const files = filesUnder(dir);
    expect(files.some((path) => path.endsWith('failures.jsonl'))).toBe(true);
    expect(files.some((path) => path.endsWith('summary.json'))).toBe(true);
    for (const secret of secrets) {
      for (const path of files) expect(readFileSync(path).includes(secret), `${secret} in ${path}`).toBe(false);
      for (const output of outputs) {
        expect(output.stdout, `${secret} on stdout`).not.toContain(secret);
        expect(output.stderr, `${secret} on stderr`).not.toContain(secret);
      }
    }
  }, 120_000);
});

describe('huge error messages', () => {
  it('20 failures with a 1 MB message leave a bounded ledger and bounded terminal output', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob } from 'batchguard';
const huge = 'x'.repeat(1_000_000);
export default defineJob({
  name: 'huge',
  source: Array.from({ length: 20 }, (_, id) => ({ id })),
  key: (r) => String(r.id),
  retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 1 } },
  breaker: { enabled: false },
  retryBudget: { enabled: false },
  handler: async (r) => { throw new Error('record ' + r.id + ': ' + huge); },
});
`,
    );
    const run = await runCli(['run', 'job.mjs', '--verbose', '--ledger', 'ledger/huge.sqlite'], { cwd: dir });
    expect(run.code).toBe(1);
    // The JSON log (the default off a terminal) has every failure and retry: as bounded.
    const jsonRun = await runCli(['rerun', 'job.mjs', '--failed', '--verbose', '--ledger', 'ledger/huge.sqlite'], {
      cwd: dir,
      env: { BATCHGUARD_LOG_FORMAT: '' },
    });
    expect(jsonRun.code).toBe(1);
    expect(jsonRun.stderr.split('\n').filter((line) => line.includes('"event":"record:failed"'))).toHaveLength(20);
    expect(jsonRun.stderr.length).toBeLessThan(100_000);
    const table = await runCli(['failures', 'job.mjs', '--ledger', 'ledger/huge.sqlite'], { cwd: dir });
    const jsonl = await runCli(['failures', 'job.mjs', '--format', 'jsonl', '--ledger', 'ledger/huge.sqlite'], { cwd: dir });
    // Before the bounds: an 85 MB ledger and 21 MB on the terminal. Now each failure stores a few KB.
    expect(sizeUnder(join(dir, 'ledger'))).toBeLessThan(3_000_000);
    expect(run.stdout.length + run.stderr.length).toBeLessThan(100_000);
    expect(table.stdout.length).toBeLessThan(10_000);
    const first = JSON.parse(jsonl.stdout.split('\n')[0] as string);
    expect(first.error.message).toMatch(/^record 0: x{1990}… \[truncated 998,010 chars\]$/);
    expect(first.history).toHaveLength(3);
  }, 120_000);
});

describe('keys and messages with control characters', () => {
  it('are printed escaped, and keys with newlines round-trip through failures --format keys and rerun --keys', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { defineJob, FatalError } from 'batchguard';
const keys = ['plain', 'two\\nlines', '\\u001b[31mred\\u001b[0m', '"quoted"', ' padded '];
export default defineJob({
  name: 'control',
  source: keys.map((key) => ({ key })),
  key: (r) => r.key,
  maxFailureRate: 1,
  handler: async (r) => {
    if (process.env.FIXED !== '1') throw new FatalError('bad \\u001b]0;owned\\u0007 title for ' + r.key);
  },
});
`,
    );
    const ledger = ['--ledger', 'ledger/control.sqlite'];
    const run = await runCli(['run', 'job.mjs', ...ledger], { cwd: dir });
    const table = await runCli(['failures', 'job.mjs', ...ledger], { cwd: dir });
    // eslint-disable-next-line no-control-regex -- no raw control character may reach the terminal
    for (const output of [run.stdout, run.stderr, table.stdout]) expect(output).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(run.stderr).toContain('failed  \\e[31mred\\e[0m [fatal]');
    expect(table.stdout).toContain('two\\nlines');

    const keys = await runCli(['failures', 'job.mjs', '--format', 'keys', ...ledger], { cwd: dir });
    expect(keys.stdout).toBe('plain\n"two\\nlines"\n"\\u001b[31mred\\u001b[0m"\n"\\"quoted\\""\n" padded "\n');
    writeFileSync(join(dir, 'keys.txt'), keys.stdout);
    const rerun = await runCli(['rerun', 'job.mjs', '--failed', '--keys', 'keys.txt', '--json', ...ledger], {
      cwd: dir,
      env: { FIXED: '1' },
    });
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ total: 5, succeeded: 5, failed: 0, warnings: [] });

    writeFileSync(join(dir, 'bad-keys.txt'), 'plain\n"unterminated\n');
    const bad = await runCli(['rerun', 'job.mjs', '--failed', '--keys', 'bad-keys.txt', ...ledger], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad-keys.txt:2: a line starting with " must be a JSON string');
  }, 120_000);
});
