/**
 * A ledger this process may not write: another user's (read-only to this one), or on a read-only
 * mount. The read commands read it when SQLite can (its folder writable: SQLite creates -wal and
 * -shm beside a ledger even to read it); otherwise, and for `run`, one line says what is not
 * writable and what to do, exit 4, before anything is written.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, spawnCli, writeJsonl, type CliResult } from '../helpers/cli.js';
import { CAN_MOUNT, smallDisk } from '../helpers/small-disk.js';
import { tempDir } from '../helpers/temp.js';

const EXIT_LEDGER = 4;

/** A job over `count` records of which every tenth fails for good, with its ledger at `ledger`. */
function writeJob(dir: string, ledger: string, count = 50): void {
  writeJsonl(dir, 'records.jsonl', count);
  writeFileSync(
    join(dir, 'job.mjs'),
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'unwritable',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  ledger: ${JSON.stringify(ledger)},
  maxFailureRate: 1,
  handler: async (r) => {
    if (r.id % 10 === 0) throw new FatalError('bad ' + r.id);
  },
});
`,
  );
}

/**
 * Runs the CLI as user `nobody` (uid 65534), when this process is root and that user can read the
 * CLI: the way to meet permissions that root ignores.
 */
const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const runAsNobody = (args: string[], cwd: string): Promise<CliResult> => spawnCli(args, { cwd, wrap: AS_NOBODY }).result;
function nobodyCanRun(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync(
      AS_NOBODY[0] as string,
      [...AS_NOBODY.slice(1), process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`],
      {
        stdio: 'ignore',
      },
    );
    return true;
  } catch {
    return false;
  }
}

describe('a ledger this process may not write', () => {
  it.runIf(nobodyCanRun())(
    "another user's ledger: status, failures and runs read it; run refuses it in one line",
    async () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      const folder = join(dir, 'state');
      mkdirSync(folder, { mode: 0o777 });
      chmodSync(folder, 0o777);
      const ledger = join(folder, 'ledger.sqlite');
      writeJob(dir, ledger);
      expect((await runCli(['run', 'job.mjs'], { cwd: dir })).code).toBe(0);
      // Readable, not writable, by everyone else.
      chmodSync(ledger, 0o644);
      chmodSync(join(dir, 'job.mjs'), 0o644);
      chmodSync(join(dir, 'records.jsonl'), 0o644);

      const status = await runAsNobody(['status', 'job.mjs', '--json'], dir);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ total: 50, succeeded: 45, failed: 5 });
      const failures = await runAsNobody(['failures', 'job.mjs', '--format', 'keys'], dir);
      expect(failures.code, failures.stderr).toBe(0);
      expect(failures.stdout.trim().split('\n')).toEqual(['0', '10', '20', '30', '40']);
      expect((await runAsNobody(['runs', 'job.mjs'], dir)).code).toBe(0);

      const run = await runAsNobody(['run', 'job.mjs'], dir);
      expect(run.code).toBe(EXIT_LEDGER);
      expect(run.stderr).toContain(
        `cannot open the ledger ${ledger} for writing: the ledger ${ledger} is not writable by this user (uid 65534)`,
      );
      expect(run.stderr).toContain('Run batchguard as the user who owns the ledger');
      expect(run.stderr).not.toMatch(/\n\s+at /);
    },
    60_000,
  );

  it.runIf(CAN_MOUNT)(
    'on a read-only mount: every command says so in one line, and the ledger is unchanged',
    async () => {
      const dir = tempDir();
      const disk = smallDisk(dir, '4m');
      const ledger = join(disk, 'ledger.sqlite');
      writeJob(dir, ledger);
      expect((await runCli(['run', 'job.mjs'], { cwd: dir })).code).toBe(0);
      execFileSync('mount', ['-o', 'remount,ro', disk]);

      for (const args of [
        ['status', 'job.mjs'],
        ['failures', 'job.mjs'],
        ['run', 'job.mjs'],
      ]) {
        const result = await runCli(args, { cwd: dir });
        expect(result.code, args.join(' ')).toBe(EXIT_LEDGER);
        expect(result.stderr).toContain(`${disk}${args[0] === 'run' ? '/ledger.sqlite' : ''} is on a read-only file system`);
        expect(result.stderr).toContain('Mount that file system read-write');
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
      const reading = await runCli(['status', 'job.mjs'], { cwd: dir });
      expect(reading.stderr).toContain('SQLite writes');

      execFileSync('mount', ['-o', 'remount,rw', disk]);
      const status = await runCli(['status', 'job.mjs', '--json'], { cwd: dir });
      expect(JSON.parse(status.stdout)).toMatchObject({ total: 50, succeeded: 45, failed: 5 });
    },
    60_000,
  );
});
