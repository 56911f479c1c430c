/**
 * The key index's spills on a worker thread (src/ledger/sqlite/key-run-spiller.ts), with the runs in
 * files as the SQLite ledger keeps them. The worker is dist/'s build (`npm run build`). A worker that
 * fails mid-spill, never starts, or stops answering loses no key: its files are deleted and the
 * spill is made on the main thread. A process SIGKILLed mid-spill leaves files no manifest lists,
 * which the next open deletes, and the next run is exact.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { KeyRunFiles, type KeyRunsManifest } from '../../src/ledger/sqlite/key-runs.js';
import { KeyRunSpiller, type KeyRunSpillerOptions } from '../../src/ledger/sqlite/key-run-spiller.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { SpillingKeyIndex } from '../../src/structures/spilling-key-index.js';
import { start } from '../conformance/conformance-harness.js';
import { tempDir } from '../helpers/temp.js';

const WORKER = new URL('../../dist/ledger/sqlite/key-run-spill-worker.js', import.meta.url);
const OPEN_LEDGER = new URL('../../dist/ledger/sqlite/open-sqlite-ledger.js', import.meta.url);

interface Spilling {
  readonly index: SpillingKeyIndex;
  readonly spiller: KeyRunSpiller;
  readonly files: KeyRunFiles;
}

function spilling(options: KeyRunSpillerOptions = {}): Spilling {
  const files = new KeyRunFiles(join(tempDir(), 'sorted'));
  const spiller = new KeyRunSpiller(files, { workerUrl: WORKER, ...options });
  return { index: new SpillingKeyIndex({ store: files, spillKeys: 1000, spiller }), spiller, files };
}

/** Adds keys `from` to `to - 1` (seq = number), a commit every 100 keys (a drain, then the spill check). */
async function addKeys(index: SpillingKeyIndex, from: number, to: number): Promise<void> {
  for (let seq = from; seq < to; seq++) {
    expect(index.add(`key-${seq}`, seq, seq + 1)).toBeUndefined();
    if (seq % 100 === 99) {
      index.drain();
      index.spillWhenFull(seq);
      // Commits await the database: the worker's reply (or its exit) is seen at a later one.
      if (seq % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function expectExact(index: SpillingKeyIndex, held: number): void {
  expect(index.size).toBe(held);
  for (let seq = 0; seq < held; seq++) expect(index.add(`key-${seq}`, 99_999, 1)).toEqual({ seq, line: seq + 1 });
  for (let seq = held; seq < held + 100; seq++) expect(index.find(`key-${seq}`)).toBeUndefined();
}

/**
 * Once a manifest lists the index's runs (the runs merged away are deleted then, as the ledger does),
 * the folder holds those runs and their pages, and nothing a worker wrote besides.
 */
function expectOnlyListed({ index, files }: Spilling): void {
  files.saveManifest({ version: 1, skip: 0, remappedBytes: 0, coveredBytes: 0, coveredCrc: 0, runs: index.runRecords });
  const listed = index.runRecords.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]);
  expect(readdirSync(files.folder).sort()).toEqual(['manifest.json', ...listed].sort());
}

describe('the key index spilling on a worker thread', () => {
  it('sorts and merges on the worker, stays exact throughout, and leaves only the runs it lists', async () => {
    expect(existsSync(WORKER)).toBe(true);
    const spilled = spilling();
    const { index, spiller } = spilled;
    await addKeys(index, 0, 5000);
    expect(spiller.thread).toBeDefined();
    expectExact(index, 5000);
    index.settle(true);
    expect(index.runRecords.reduce((sum, run) => sum + run.entries, 0)).toBeGreaterThanOrEqual(4000);
    expectOnlyListed(spilled);
    expectExact(index, 5000);
    index.close();
  });

  it('deletes what a worker failing mid-spill wrote and makes the spill here', async () => {
    // The first spill writes one file; the second fails after it, before its merge.
    const spilled = spilling({ failAfterFiles: 1 });
    const { index, spiller } = spilled;
    await addKeys(index, 0, 3000);
    index.settle(true);
    expect(spiller.thread).toBeUndefined();
    expectOnlyListed(spilled);
    expectExact(index, 3000);
    await addKeys(index, 3000, 4000);
    expectExact(index, 4000);
  });

  it('makes the spill here when the worker cannot start', async () => {
    const spilled = spilling({ workerUrl: pathToFileURL(join(tempDir(), 'missing.mjs')) });
    const { index, spiller } = spilled;
    await addKeys(index, 0, 1000);
    // Its failure to start is an event: seen at a commit once it came.
    for (let tries = 0; spiller.thread !== undefined && tries < 250; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      index.settle(false);
    }
    expect(spiller.thread).toBeUndefined();
    expect(index.runRecords).toHaveLength(1);
    await addKeys(index, 1000, 2500);
    expectExact(index, 2500);
    index.settle(true);
    expectOnlyListed(spilled);
  });

  it('gives up on a worker that writes nothing for stallMs while waited for, and makes the spill here', async () => {
    const silent = join(tempDir(), 'silent-worker.mjs');
    writeFileSync(silent, 'setInterval(() => {}, 1000);\n');
    const spilled = spilling({ workerUrl: pathToFileURL(silent), stallMs: 500 });
    const { index, spiller } = spilled;
    await addKeys(index, 0, 1000);
    expect(spiller.thread).toBeDefined();
    const waited = performance.now();
    index.settle(true);
    expect(performance.now() - waited).toBeGreaterThanOrEqual(500);
    expect(spiller.thread).toBeUndefined();
    expect(index.runRecords).toHaveLength(1);
    expectOnlyListed(spilled);
    expectExact(index, 1000);
  });

  it('resumes exactly after a SIGKILL mid-spill: the files no manifest lists are deleted', async () => {
    const path = join(tempDir(), 'ledger.sqlite');
    // A run on the built ledger adding keys, a commit every 100: the spill started at the commit of
    // key 999 ends on the worker and a later commit lists its runs (covering that commit's keys
    // only); the process is killed right after the commit that starts the next spill (the worker is
    // then writing its run, or about to).
    const script = `
      import { openSqliteLedgerFile } from ${JSON.stringify(OPEN_LEDGER.href)};
      import { readdirSync } from 'node:fs';
      const fingerprint = { description: 'jsonl:data/in.jsonl', size: 1000, mtimeMs: 1_700_000_000_000, sampleHash: 'aaaa' };
      const ledger = openSqliteLedgerFile(process.argv[1], { keySpillKeys: 1000 });
      await ledger.begin({ runId: 'run-1', job: 'conformance', fingerprint, acceptDrift: false, options: { concurrency: 4 } });
      const keys = await ledger.keys();
      for (let seq = 0; seq < 3000; seq++) {
        keys.add('key-' + seq, seq, seq + 1);
        if (seq % 100 === 99) {
          await ledger.commit({ runId: 'run-1', succeeded: [{ first: seq - 99, last: seq }], rows: [], watermark: { seq: seq + 1 }, seen: seq + 1, exhausted: false });
          if (seq === 1999) process.kill(process.pid, 'SIGKILL');
          // Time for the first spill to end, so that a later commit lists its runs in a manifest.
          if (seq >= 999) await new Promise((resolve) => setTimeout(resolve, 30));
        }
      }
    `;
    let signal: string | undefined;
    try {
      execFileSync(process.execPath, ['--input-type=module', '-e', script, path], { stdio: 'pipe' });
    } catch (error) {
      signal = (error as { signal?: string }).signal;
    }
    expect(signal).toBe('SIGKILL');
    const folder = `${path}.keys.sorted`;
    const killed = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as KeyRunsManifest;
    expect(killed.coveredBytes).toBe(1000 * 16);
    const ledger = openSqliteLedgerFile(path, { keySpillKeys: 1000 });
    await ledger.begin(start('run-2'));
    const keys = await ledger.keys();
    expect(keys.size).toBe(2000);
    for (let seq = 0; seq < 2000; seq++) expect(keys.add(`key-${seq}`, 99_999, 1)).toEqual({ seq, line: seq + 1 });
    expect(keys.find('key-2000')).toBeUndefined();
    await ledger.finish('run-2', 'completed', {});
    await ledger.close();
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as KeyRunsManifest;
    const listed = manifest.runs.flatMap((run) => [run.name, run.name.replace('.bin', '.pages')]);
    expect(readdirSync(folder).sort()).toEqual(['filter.bin', 'manifest.json', ...listed].sort());
  });
});
