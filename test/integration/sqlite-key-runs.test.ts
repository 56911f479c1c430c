/**
 * The SQLite ledger's key runs (`<ledger>.keys.sorted/`, ledger/sqlite/key-runs.ts) across runs: a
 * resume opens the runs its manifest lists and reads only the key file's entries past them; a
 * ledger without runs (an older batchguard's), a damaged run, or a key file that no longer matches
 * the manifest makes the runs be built again from the key file. Every case must stay exact.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import type { KeyRunsManifest } from '../../src/ledger/sqlite/key-runs.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { batch, start } from '../conformance/conformance-harness.js';
import { tempDir } from '../helpers/temp.js';

const SPILL = 64;

function open(path: string): Ledger {
  return openSqliteLedgerFile(path, { keySpillKeys: SPILL });
}

/** A run that adds keys `first` to `end - 1` (seq = number), committing every 50 keys. */
async function addKeys(path: string, runId: string, first: number, end: number): Promise<void> {
  const ledger = open(path);
  await ledger.begin(start(runId));
  const keys = await ledger.keys();
  for (let seq = first; seq < end; seq++) {
    expect(keys.add(`key-${seq}`, seq, seq + 1)).toBeUndefined();
    if ((seq + 1) % 50 === 0 || seq === end - 1) {
      await ledger.commit(
        batch(runId, { succeeded: [{ first: Math.floor(seq / 50) * 50, last: seq }], watermark: { seq: seq + 1 }, seen: seq + 1 }),
      );
    }
  }
  await ledger.finish(runId, 'completed', {});
  await ledger.close();
}

/** Opens a run and checks that every key 0..held-1 is found with its owner and none after it. */
async function expectExact(path: string, runId: string, held: number): Promise<void> {
  const ledger = open(path);
  await ledger.begin(start(runId));
  const keys = await ledger.keys();
  expect(keys.size).toBe(held);
  for (let seq = 0; seq < held; seq++) expect(keys.find(`key-${seq}`)).toEqual({ seq, line: seq + 1 });
  for (let seq = held; seq < held + 200; seq++) expect(keys.find(`key-${seq}`)).toBeUndefined();
  // A duplicate of a spilled key, of a key of the last commit, and the same record read again.
  expect(keys.add('key-3', 99_999, 1)).toEqual({ seq: 3, line: 4 });
  expect(keys.add(`key-${held - 1}`, 99_999, 1)).toEqual({ seq: held - 1, line: held });
  expect(keys.add('key-10', 10, 11)).toBeUndefined();
  await ledger.finish(runId, 'completed', {});
  await ledger.close();
}

function flipByte(file: string, at: number): void {
  writeFileSync(file, Buffer.from(readFileSync(file).map((byte, i) => (i === at ? byte ^ 1 : byte))));
}

function manifestOf(path: string): KeyRunsManifest {
  return JSON.parse(readFileSync(join(`${path}.keys.sorted`, 'manifest.json'), 'utf8')) as KeyRunsManifest;
}

describe('SQLite ledger: the key runs', () => {
  it('spills committed keys into runs listed by a manifest, which a resume opens as they are', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    const manifest = manifestOf(path);
    expect(manifest.runs.length).toBeGreaterThan(0);
    expect(manifest.runs.reduce((sum, run) => sum + run.entries, 0)).toBeLessThanOrEqual(1000);
    expect(manifest.coveredBytes).toBeLessThanOrEqual(statSync(`${path}.keys`).size);
    // Only listed runs are left: merged ones were deleted after the manifest that replaced them.
    // Each run has its pages beside it, and the Bloom filter over them is kept.
    expect(readdirSync(`${path}.keys.sorted`).sort()).toEqual(
      ['manifest.json', 'filter.bin', ...manifest.runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')])].sort(),
    );

    // A run file no manifest lists (a process died between a merge and its manifest) is deleted.
    writeFileSync(join(`${path}.keys.sorted`, 'run-999.bin'), Buffer.alloc(32));
    const filter = statSync(join(`${path}.keys.sorted`, 'filter.bin'));
    await expectExact(path, 'run-2', 1000);
    // Nothing new was stored: the resume used the runs and the filter as they were.
    expect(manifestOf(path)).toEqual(manifest);
    expect(statSync(join(`${path}.keys.sorted`, 'filter.bin')).ino).toBe(filter.ino);
    expect(existsSync(join(`${path}.keys.sorted`, 'run-999.bin'))).toBe(false);
    await addKeys(path, 'run-3', 1000, 1500);
    await expectExact(path, 'run-4', 1500);
  });

  it('deletes the half-written filter and manifest a process killed while writing them left', async () => {
    // Found by the key spill storm (test/torture/key-spill-storm.ts): a SIGKILL while the filter was
    // written left filter.bin.tmp (up to the filter's size, 16 MB at 9M keys) until a later save.
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    const folder = `${path}.keys.sorted`;
    const listed = [
      'manifest.json',
      'filter.bin',
      ...manifestOf(path).runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]),
    ];
    writeFileSync(join(folder, 'filter.bin.tmp'), Buffer.alloc(100));
    writeFileSync(join(folder, 'manifest.json.tmp'), '{"version":1,');
    const ledger = open(path);
    await ledger.begin(start('run-2'));
    await ledger.keys();
    expect(readdirSync(folder).sort()).toEqual(listed.sort());
    await ledger.finish('run-2', 'completed', {});
    await ledger.close();
  });

  it('builds the runs from the key file for a ledger that has none (an older batchguard), once', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    rmSync(`${path}.keys.sorted`, { recursive: true });
    await expectExact(path, 'run-2', 1000);
    const rebuilt = manifestOf(path);
    expect(rebuilt.coveredBytes).toBe(1000 * 16);
    await expectExact(path, 'run-3', 1000);
    expect(manifestOf(path)).toEqual(rebuilt);
  });

  it.each([
    ['a run cut short', (file: string) => writeFileSync(file, readFileSync(file).subarray(0, 100))],
    ['a run deleted', (file: string) => rmSync(file)],
    ['the pages of a run changed', (file: string) => flipByte(file.replace('.bin', '.pages'), 30)],
    ['the pages of a run deleted', (file: string) => rmSync(file.replace('.bin', '.pages'))],
  ])('builds the runs again after %s, and stays exact', async (_, damage) => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    damage(join(`${path}.keys.sorted`, manifestOf(path).runs[0]!.name));
    await expectExact(path, 'run-2', 1000);
    await expectExact(path, 'run-3', 1000);
  });

  it('stops with a StorageError at a run page that changed on disk (never believed), and the next run builds the runs again', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    const run = join(`${path}.keys.sorted`, manifestOf(path).runs[0]!.name);
    flipByte(run, 40);
    const ledger = open(path);
    await ledger.begin(start('run-2'));
    const keys = await ledger.keys();
    let error: unknown;
    try {
      for (let seq = 0; seq < 1000; seq++) keys.find(`key-${seq}`);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STORAGE_DAMAGED');
    expect((error as StorageError).message).toContain(
      `the sorted run ${run} of the key index has a damaged page (page 0 does not match its CRC-32)`,
    );
    await ledger.close();
    expect(existsSync(join(`${path}.keys.sorted`, 'manifest.json'))).toBe(false);
    await expectExact(path, 'run-3', 1000);
    await expectExact(path, 'run-4', 1000);
  });

  it('builds the runs again when the key file no longer holds what the manifest covers (restored from an older backup)', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    const dir = join(tempDir(), 'backup');
    await addKeys(path, 'run-1', 0, 600);
    // A backup of the ledger and its key file, without the runs.
    const backup = ['', '.keys'].map((suffix) => [suffix, readFileSync(`${path}${suffix}`)] as const);
    await addKeys(path, 'run-2', 600, 1200);
    expect(existsSync(dir)).toBe(false);
    for (const [suffix, bytes] of backup) writeFileSync(`${path}${suffix}`, bytes);
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    // The runs cover 1200 keys' worth of a key file that now holds 600.
    await expectExact(path, 'run-3', 600);
  });

  it('keeps no key that no commit stored in a run: a run that died after adding keys', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 500);
    const dying = open(path);
    await dying.begin(start('run-2'));
    const keys = await dying.keys();
    for (let seq = 500; seq < 800; seq++) keys.add(`key-${seq}`, seq, seq + 1);
    await dying.close();
    await expectExact(path, 'run-3', 500);
  });

  describe('the kept Bloom filter', () => {
    const filterOf = (path: string) => join(`${path}.keys.sorted`, 'filter.bin');

    it.each([
      [
        'its bits cleared, its CRC left as it was',
        (file: string) => {
          const bytes = readFileSync(file);
          bytes.fill(0, 48, bytes.byteLength - 4);
          writeFileSync(file, bytes);
        },
      ],
      ['a byte changed', (file: string) => flipByte(file, 100)],
      [
        'cut short by a crash while it was written, its temporary file left',
        (file: string) => {
          const bytes = readFileSync(file);
          writeFileSync(`${file}.tmp`, bytes.subarray(0, 200));
          writeFileSync(file, bytes.subarray(0, bytes.byteLength - 100));
        },
      ],
      ['deleted', (file: string) => rmSync(file)],
    ])('is never trusted with %s: the runs are read to build it again, and it is kept again', async (_, damage) => {
      const path = join(tempDir(), 'ledger.sqlite');
      await addKeys(path, 'run-1', 0, 1000);
      damage(filterOf(path));
      await expectExact(path, 'run-2', 1000);
      expect(readFileSync(filterOf(path)).byteLength).toBeGreaterThan(100);
      await expectExact(path, 'run-3', 1000);
    });

    it('takes the keys stored after an older kept filter (a crash before the newest was kept) into it', async () => {
      const path = join(tempDir(), 'ledger.sqlite');
      // 600 keys: a filter planned for 1054 (it doubles past its keys), which can hold the 1000 below.
      await addKeys(path, 'run-1', 0, 600);
      const older = readFileSync(filterOf(path));
      await addKeys(path, 'run-2', 600, 1000);
      writeFileSync(filterOf(path), older);
      // Without the keys 600-999 added to it, the filter would hide those in the runs.
      await expectExact(path, 'run-3', 1000);
    });

    it("is not used when it was kept by another ledger's key file", async () => {
      const path = join(tempDir(), 'ledger.sqlite');
      const other = join(tempDir(), 'other.sqlite');
      await addKeys(path, 'run-1', 0, 1000);
      await addKeys(other, 'run-1', 5000, 6000);
      writeFileSync(filterOf(path), readFileSync(filterOf(other)));
      await expectExact(path, 'run-2', 1000);
    });
  });

  it('reads only the key file past what the runs hold, and still refuses a damaged key file once it must be read', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    await addKeys(path, 'run-1', 0, 1000);
    expect(manifestOf(path).coveredBytes).toBeGreaterThan(320);
    flipByte(`${path}.keys`, 320);
    // The runs answer for the part they hold; the key file is not read there.
    await expectExact(path, 'run-2', 1000);
    // Without them it must be read, and no longer matches what the ledger committed.
    rmSync(`${path}.keys.sorted`, { recursive: true });
    const ledger = open(path);
    try {
      await ledger.begin(start('run-3'));
      let error: unknown;
      await ledger.keys().catch((thrown: unknown) => (error = thrown));
      expect(error).toBeInstanceOf(StorageError);
      expect((error as StorageError).message).toContain(`the key file ${path}.keys does not match its ledger (its content differs`);
    } finally {
      await ledger.close();
    }
  });
});
