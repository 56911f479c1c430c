/**
 * The read-only commands (`failures`, `runs`) through the real CLI, with the flags a person narrows
 * them by: a run id the ledger does not know, a count of zero, and the re-run hint `failures`
 * prints, which must re-run the same records of the same ledger when copied.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempFiles } from '../helpers/temp.js';

const { dir } = tempFiles('bg-read-flags-', '.txt');
const ledgerFlag = ['--ledger', 'state/ledger.sqlite'];

beforeAll(async () => {
  writeJsonl(dir, 'records.jsonl', 20);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'read-flags',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.id % 5 === 0) throw new FatalError('bad record ' + r.id);
  },
});
`,
  );
  const first = await runCli(['run', 'job.mjs', '--no-progress', '--quiet', ...ledgerFlag], { cwd: dir });
  expect(first.code, first.stderr).toBe(0);
}, 30_000);

describe('failures', () => {
  it('refuses a --run the ledger does not know (exit 2), as report does, instead of saying nothing matches', async () => {
    const result = await runCli(['failures', 'job.mjs', '--run', 'no-such-run', ...ledgerFlag], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('--run no-such-run: no such run in the ledger');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('prints a re-run hint that names the ledger it read, so that copying it re-runs these records', async () => {
    const result = await runCli(['failures', 'job.mjs', ...ledgerFlag], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('re-run them: batchguard rerun job.mjs --failed --ledger state/ledger.sqlite\n');
  });
});

describe('runs', () => {
  it('refuses --limit 0 (exit 2) instead of saying the job has no runs', async () => {
    const result = await runCli(['runs', 'job.mjs', '--limit', '0', ...ledgerFlag], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stdout).not.toContain('no runs yet');
    expect(result.stderr).toContain('--limit must be a whole number from 1');
  });
});

describe('--pg-schema', () => {
  it('is checked as it is parsed, by every command, naming the flag and the rule (exit 2)', async () => {
    for (const command of ['run', 'status', 'failures']) {
      const result = await runCli([command, 'job.mjs', '--ledger', 'postgres://127.0.0.1:1/none', '--pg-schema', 'Ünïcode'], { cwd: dir });
      expect(result.code, command).toBe(2);
      expect(result.stderr).toContain(
        "option '--pg-schema <name>' argument 'Ünïcode' is invalid. a PostgreSQL schema name for the ledger is ASCII letters",
      );
    }
  });
});

describe('report --html', () => {
  it('writes over an earlier report, never over the ledger, the job file or another file that is not an HTML page (exit 2)', async () => {
    const before = await runCli(['status', 'job.mjs', '--json', ...ledgerFlag], { cwd: dir });
    for (const target of ['state/ledger.sqlite', 'job.mjs', 'records.jsonl']) {
      const result = await runCli(['report', 'job.mjs', '--html', target, ...ledgerFlag], { cwd: dir });
      expect(result.code, target).toBe(2);
      expect(result.stderr).toContain(`--html ${target}: the file exists and is not an HTML page`);
    }
    const folder = await runCli(['report', 'job.mjs', '--html', 'state', ...ledgerFlag], { cwd: dir });
    expect(folder.code).toBe(2);
    expect(folder.stderr).toContain('--html state: cannot write the report there (EISDIR)');
    expect(folder.stderr).not.toContain('    at ');
    // The ledger is as it was, and the job file too.
    expect((await runCli(['status', 'job.mjs', '--json', ...ledgerFlag], { cwd: dir })).stdout).toBe(before.stdout);
    for (let i = 0; i < 2; i++)
      expect((await runCli(['report', 'job.mjs', '--html', 'report.html', ...ledgerFlag], { cwd: dir })).code).toBe(0);
  });
});

describe('numeric flags and listening', () => {
  it('a value out of range is a usage error naming the flag typed, never a stack trace (exit 2)', async () => {
    const cases: [string[], string][] = [
      [['run', 'job.mjs', '--concurrency', '0'], '--concurrency must be a whole number from 1 to 10000; got "0"'],
      [['run', 'job.mjs', '--keep-runs', '0'], '--keep-runs must be a whole number from 1 to 100000; got "0"'],
      [['run', 'job.mjs', '--dry-run', '--limit', '0'], '--limit must be a whole number from 1; got "0"'],
      [['run', 'job.mjs', '--metrics-port', '99999'], '--metrics-port must be a whole number from 0 to 65535; got "99999"'],
      [['dashboard', 'job.mjs', '--port', '99999'], '--port must be a whole number from 0 to 65535; got "99999"'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli([...args, ...ledgerFlag], { cwd: dir });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
      expect(result.stderr).not.toContain('    at ');
    }
  });

  it('the dashboard on a port in use says so in one line (exit 2), not as a bug with its stack', async () => {
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    try {
      const port = (taken.address() as AddressInfo).port;
      const result = await runCli(['dashboard', 'job.mjs', '--port', String(port), ...ledgerFlag], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe(
        `batchguard: error: cannot listen on 127.0.0.1:${port} (EADDRINUSE); choose another --port or --host`,
      );
    } finally {
      taken.close();
    }
  });
});

describe('dashboard', () => {
  it('lists commands that name the ledger it shows', async () => {
    const dashboard = spawnCli(['dashboard', 'job.mjs', ...ledgerFlag], { cwd: dir });
    let out = '';
    dashboard.stdout!.on('data', (chunk) => (out += chunk));
    try {
      await waitFor(() => /http:\/\/127\.0\.0\.1:\d+\//.test(out), 10_000);
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(out)![0];
      const snapshot = (await (await fetch(`${url}snapshot.json`)).json()) as { commands: string[] };
      expect(snapshot.commands).toEqual([
        'batchguard run job.mjs --ledger state/ledger.sqlite',
        'batchguard rerun job.mjs --failed --ledger state/ledger.sqlite',
        'batchguard failures job.mjs --ledger state/ledger.sqlite',
      ]);
    } finally {
      dashboard.kill('SIGTERM');
      await dashboard.result;
    }
  });
});
