// Storage faults of the SQLite backend: raw SQLite here damages or measures its files on purpose.
import {
  appendFileSync,
  openSync,
  closeSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeSync,
  copyFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import type { CommitBatch, RunStart } from '../../src/ledger/ledger.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import type { SqliteLedger } from '../../src/ledger/sqlite/sqlite-ledger.js';
import { jsonlOutput } from '../../src/sinks/jsonl-output.js';
import { ManualClock } from '../../src/clock.js';
import { FatalError } from '../../src/errors.js';
import { runJob } from '../../src/engine/run-job.js';
import { drive } from '../helpers/drive.js';
import { itemsJob } from '../helpers/jobs.js';
import { withDatabase as query } from '../helpers/ledger.js';
import { CAN_MOUNT, smallDisk } from '../helpers/small-disk.js';
import { tempDir } from '../helpers/temp.js';

function start(runId: string): RunStart {
  return { runId, job: 'storage-test', fingerprint: undefined, acceptDrift: false, options: {} };
}

function batch(runId: string, overrides: Partial<CommitBatch> = {}): CommitBatch {
  return { runId, succeeded: [], rows: [], watermark: { seq: 0 }, seen: 0, exhausted: false, ...overrides };
}

/** Loads the ledger's keys and adds `count` of them (records `from`… with keys `key-<seq>`), stored by the next commit. */
async function addKeys(ledger: SqliteLedger, from: number, count: number): Promise<void> {
  const keys = await ledger.keys();
  for (let seq = from; seq < from + count; seq++) keys.add(`key-${seq}`, seq, seq + 1);
}

/** The bytes of the key entries the ledger holds (16 a key), loading them from the key file. */
async function allKeys(ledger: SqliteLedger): Promise<number> {
  return (await ledger.keys()).size * 16;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

function expectStorage(error: unknown, code: string, text: string): void {
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  expect((error as StorageError).message).toContain(text);
  expect((error as StorageError).message).not.toContain('\n');
}

/** A ledger with one finished run that committed `keyCount` keys in two chunks and 300 failed rows. */
async function ledgerWithKeys(path: string, keyCount = 100): Promise<void> {
  const ledger = openSqliteLedgerFile(path);
  try {
    await ledger.begin(start('run-1'));
    const rows = Array.from({ length: 300 }, (_, seq) => ({
      seq,
      key: `key-${seq}`,
      status: 'failed' as const,
      kind: 'fatal' as const,
      attempts: 1,
      error: { name: 'Error', message: `failure ${seq} ${'x'.repeat(200)}` },
      runId: 'run-1',
      updatedAt: '2026-01-01T00:00:00.000Z',
    }));
    await addKeys(ledger, 0, keyCount / 2);
    await ledger.commit(batch('run-1', { rows: rows.slice(0, 150), watermark: { seq: 150 }, seen: 150 }));
    await addKeys(ledger, keyCount / 2, keyCount / 2);
    await ledger.commit(batch('run-1', { rows: rows.slice(150), watermark: { seq: 300 }, seen: 300 }));
    await ledger.finish('run-1', 'completed', {});
  } finally {
    await ledger.close();
  }
}

describe('the ledger file', () => {
  it('refuses an empty (0-byte) ledger instead of starting over in it', async () => {
    const path = join(tempDir(), 'l.sqlite');
    await ledgerWithKeys(path);
    truncateSync(path, 0);
    expectStorage(
      thrown(() => openSqliteLedgerFile(path)),
      'STORAGE_DAMAGED',
      `the ledger ${path} is empty (0 bytes)`,
    );
    expect(statSync(path).size).toBe(0);
  });

  it('refuses a ledger with damaged pages on open (quick_check), writing nothing', async () => {
    const path = join(tempDir(), 'l.sqlite');
    await ledgerWithKeys(path);
    const pageSize = query(path, (db) => db.pragma('page_size', { simple: true }) as number);
    const pages = statSync(path).size / pageSize;
    expect(pages).toBeGreaterThan(6);
    // Garbage over a page in the middle of the records table, past the header and schema pages.
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, pageSize * Math.floor(pages / 2));
    closeSync(fd);
    const before = readFileSync(path);
    expectStorage(
      thrown(() => openSqliteLedgerFile(path)),
      'STORAGE_DAMAGED',
      `the ledger ${path} is damaged (SQLite's quick_check: `,
    );
    expect(readFileSync(path).equals(before)).toBe(true);
  });

  it('stops a run whose ledger is deleted or replaced while it runs, before the commit vanishes with the old file', async () => {
    for (const change of ['deleted', 'replaced'] as const) {
      const dir = tempDir();
      const path = join(dir, 'l.sqlite');
      const ledger = openSqliteLedgerFile(path);
      try {
        await ledger.begin(start('run-1'));
        await ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10 }, seen: 10 }));
        if (change === 'deleted') {
          unlinkSync(path);
        } else {
          copyFileSync(path, join(dir, 'copy.sqlite'));
          renameSync(join(dir, 'copy.sqlite'), path);
        }
        const error = await rejected(
          ledger.commit(batch('run-1', { succeeded: [{ first: 10, last: 19 }], watermark: { seq: 20 }, seen: 20 })),
        );
        expectStorage(error, 'STORAGE_DAMAGED', `the ledger ${path} was ${change} while this run used it`);
        expectStorage(await rejected(ledger.finish('run-1', 'completed', {})), 'STORAGE_DAMAGED', `was ${change}`);
      } finally {
        await ledger.close();
      }
    }
  });

  it('creates the ledger, its key file and its folder private (0600, 0700)', async () => {
    const dir = join(tempDir(), 'new', 'ledgers');
    const path = join(dir, 'l.sqlite');
    await ledgerWithKeys(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(`${path}.keys`).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});

describe('run reports', () => {
  it('are created private too (0600 files in 0700 folders)', async () => {
    const dir = join(tempDir(), 'jobs');
    const job = itemsJob('modes', 20, {
      handler: async (r) => {
        if (r.id === 3) throw new FatalError('no');
      },
    });
    const clock = new ManualClock();
    const summary = await drive(runJob(job, { ledger: join(dir, 'l.sqlite'), clock }), clock);
    const reports = summary.reports as { summary: string; failures: string };
    expect(statSync(reports.summary).mode & 0o777).toBe(0o600);
    expect(statSync(reports.failures).mode & 0o777).toBe(0o600);
    expect(statSync(join(reports.summary, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(join(reports.summary, '..', '..')).mode & 0o777).toBe(0o700);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});

describe('the key file is part of the ledger', () => {
  it.each([
    ['deleted', (keysPath: string) => unlinkSync(keysPath), 'it is missing'],
    ['truncated', (keysPath: string) => truncateSync(keysPath, 800), 'it holds only 800 bytes'],
    ['cut inside an entry', (keysPath: string) => truncateSync(keysPath, 1591), 'it holds only 1591 bytes'],
    [
      'overwritten',
      (keysPath: string) => {
        const fd = openSync(keysPath, 'r+');
        writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, 320);
        closeSync(fd);
      },
      'its content differs',
    ],
  ])('refuses a key file that was %s, instead of running with duplicates unseen', async (_what, damage, said) => {
    const path = join(tempDir(), 'l.sqlite');
    await ledgerWithKeys(path);
    damage(`${path}.keys`);
    const ledger = openSqliteLedgerFile(path);
    try {
      await ledger.begin(start('run-2'));
      const error = await rejected(allKeys(ledger));
      expectStorage(
        error,
        'STORAGE_DAMAGED',
        `the key file ${path}.keys does not match its ledger (${said}; the ledger committed 1600 bytes`,
      );
      expect((error as Error).message).toContain('Restore both files from the same backup');
    } finally {
      await ledger.close();
    }
  });

  it('cuts off bytes past the committed length (a chunk whose transaction failed, a partial entry), and appends after the committed part', async () => {
    const path = join(tempDir(), 'l.sqlite');
    await ledgerWithKeys(path);
    appendFileSync(`${path}.keys`, Buffer.alloc(7, 1));
    const ledger = openSqliteLedgerFile(path);
    try {
      await ledger.begin(start('run-2'));
      expect(await allKeys(ledger)).toBe(1600);
      expect(statSync(`${path}.keys`).size).toBe(1600);
      await addKeys(ledger, 100, 10);
      await ledger.commit(batch('run-2', { watermark: { seq: 310 }, seen: 310 }));
      expect(statSync(`${path}.keys`).size).toBe(1760);
    } finally {
      await ledger.close();
    }
    const reopened = openSqliteLedgerFile(path);
    try {
      expect(await allKeys(reopened)).toBe(1760);
    } finally {
      await reopened.close();
    }
  });

  it('refuses a leftover key file beside a new ledger (the ledger was deleted, its key file not)', async () => {
    const path = join(tempDir(), 'l.sqlite');
    await ledgerWithKeys(path);
    unlinkSync(path);
    const ledger = openSqliteLedgerFile(path);
    try {
      expectStorage(
        await rejected(ledger.begin(start('run-2'))),
        'STORAGE_DAMAGED',
        `the key file ${path}.keys holds 1600 bytes but its ledger is new`,
      );
      expect((await ledger.runs(10)).length).toBe(0);
    } finally {
      await ledger.close();
    }
  });
});

describe('a full disk', () => {
  it('fails a commit whose key file cannot be written with STORAGE_FULL, and commits nothing of it', async () => {
    const path = join(tempDir(), 'l.sqlite');
    symlinkSync('/dev/full', `${path}.keys`);
    const ledger = openSqliteLedgerFile(path);
    try {
      await ledger.begin(start('run-1'));
      await addKeys(ledger, 0, 10);
      const error = await rejected(ledger.commit(batch('run-1', { succeeded: [{ first: 0, last: 9 }], watermark: { seq: 10 }, seen: 10 })));
      expectStorage(error, 'STORAGE_FULL', `the disk is full: writing the key file ${path}.keys failed`);
      expect((error as Error).message).toContain('Free space on that disk and run again to resume');
      expect((await ledger.counts()).succeeded).toBe(0);
    } finally {
      await ledger.close();
    }
  });

  // Skipped only where mounting a tmpfs is not permitted (it needs root or CAP_SYS_ADMIN): the output
  // is a regular file (jsonlOutput refuses a device such as /dev/full), on a disk that fills up.
  it.skipIf(!CAN_MOUNT)('fails an output write with STORAGE_FULL (exit 4), not as a bug', async () => {
    const path = join(smallDisk(tempDir(), '64k'), 'out.jsonl');
    const sink = jsonlOutput(path);
    await sink.open(undefined);
    try {
      sink.write({ id: 1, padding: 'x'.repeat(128 * 1024) }, { key: '1', position: { seq: 0 } });
      expectStorage(await rejected(sink.flush(sink.seal())), 'STORAGE_FULL', `the disk is full: writing the output file ${path} failed`);
    } finally {
      await sink.close();
    }
  });
});
