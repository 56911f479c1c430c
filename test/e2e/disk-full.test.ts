/**
 * A full disk under the ledger and the output, for real: a small tmpfs. The run stops with exit 4
 * and a one-line cause; nothing committed is damaged; once space is freed the next run resumes and
 * every record ends with exactly one outcome and each success with exactly one output line.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { CAN_MOUNT, smallDisk } from '../helpers/small-disk.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3000;
describe("disk full on the ledger's filesystem", () => {
  // Skipped only where mounting a tmpfs is not permitted (it needs root or CAP_SYS_ADMIN).
  it.skipIf(!CAN_MOUNT).each([
    ['the ledger and the output', true],
    ['the ledger alone', false],
  ])(
    'on %s: stops with exit 4 and a one-line cause, damages nothing, and resumes exactly once space is freed',
    async (_what, outputOnDisk) => {
      const dir = tempDir();
      const disk = smallDisk(dir, '1m');
      writeJsonl(dir, 'records.jsonl', RECORDS);
      const output = join(outputOnDisk ? disk : dir, 'out.jsonl');
      const ledger = join(disk, 'ledger.sqlite');
      writeFileSync(
        join(dir, 'job.mjs'),
        `
import { defineJob, jsonl, jsonlOutput, FatalError } from 'batchguard';
export default defineJob({
  name: 'disk-full',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 8,
  maxFailureRate: 1,
  checkpoint: { everyRecords: 100, everyMs: 50 },
  output: jsonlOutput(${JSON.stringify(output)}),
  handler: async (r) => {
    if (r.id % 10 === 3) throw new FatalError('refused ' + r.id + ' ' + 'x'.repeat(300));
    return { id: r.id, payload: 'p'.repeat(400) };
  },
});
`,
      );
      const args = ['run', 'job.mjs', '--ledger', ledger, '--lease', '1s', '--quiet'];
      const full = await runCli(args, { cwd: dir });
      expect(full.code).toBe(4);
      const lines = full.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^batchguard: error: the disk is full: .* failed: .*; (every earlier commit is intact|the output up to the last commit is intact)\. Free space on that disk and run again to resume$/,
      );
      if (!outputOnDisk) expect(lines[0]).toMatch(/(SQLITE_FULL|writing the key file)/);

      // Free space: the same files, a larger disk.
      execFileSync('mount', ['-o', 'remount,size=64m', disk]);
      // Raw SQLite on purpose: the file's own integrity check after the disk filled up under it.
      const db = new Database(ledger);
      try {
        expect(db.pragma('quick_check', { simple: true })).toBe('ok');
      } finally {
        db.close();
      }
      const resumed = await runCli([...args, '--json'], { cwd: dir });
      expect(resumed.stderr).toBe('');
      expect(resumed.code).toBe(0);
      const summary = JSON.parse(resumed.stdout) as { total: number; succeeded: number; failed: number; pending: number };
      const failing = Array.from({ length: RECORDS }, (_, id) => id).filter((id) => id % 10 === 3).length;
      expect(summary).toMatchObject({ total: RECORDS, succeeded: RECORDS - failing, failed: failing, pending: 0 });
      const ids = readFileSync(output, 'utf8')
        .trim()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: number }).id);
      expect(ids).toHaveLength(RECORDS - failing);
      expect(new Set(ids).size).toBe(ids.length);
    },
    120_000,
  );

  it.skipIf(!CAN_MOUNT)(
    'on a disk already full at the first run: exit 4 leaves no empty ledger behind, and the run starts once space is freed',
    async () => {
      const dir = tempDir();
      const disk = smallDisk(dir, '256k');
      writeJsonl(dir, 'records.jsonl', 50);
      // Fill the disk to the last byte.
      try {
        writeFileSync(join(disk, 'filler'), Buffer.alloc(1024 * 1024));
      } catch {
        // ENOSPC: the disk is full, as wanted.
      }
      const ledger = join(disk, 'ledger.sqlite');
      writeFileSync(
        join(dir, 'job.mjs'),
        `
import { defineJob, jsonl } from 'batchguard';
export default defineJob({ name: 'disk-full-first', source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}), key: (r) => String(r.id), handler: async () => 1 });
`,
      );
      const args = ['run', 'job.mjs', '--ledger', ledger, '--quiet', '--json'];
      const full = await runCli(args, { cwd: dir });
      expect(full.code).toBe(4);
      expect(full.stderr).toMatch(/the disk is full/);
      rmSync(join(disk, 'filler'));
      const started = await runCli(args, { cwd: dir });
      expect(started.code).toBe(0);
      expect(JSON.parse(started.stdout)).toMatchObject({ total: 50, succeeded: 50, pending: 0 });
    },
    60_000,
  );
});
