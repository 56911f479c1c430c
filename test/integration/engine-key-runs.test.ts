/**
 * A resume whose key index (`<ledger>.keys.sorted/`) changed on disk, through the engine: the kept
 * runs and filter are never believed past what they prove, so a duplicate key is still caught and
 * every record is handled once over the runs.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { StorageError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 2000;

function setup() {
  const dir = tempDir();
  const file = join(dir, 'in.jsonl');
  const path = join(dir, 'l.sqlite');
  // Every id once, then id 5 again: a duplicate whose key the runs hold.
  const ids = [...Array.from({ length: RECORDS }, (_, i) => i), 5];
  writeFileSync(file, ids.map((id) => `${JSON.stringify({ id })}\n`).join(''));
  const calls: number[] = [];
  const run = async (stopAt?: number) => {
    const controller = new AbortController();
    const job = defineJob<{ id: number }>({
      name: 'key-runs',
      source: jsonl<{ id: number }>(file),
      key: (r) => String(r.id),
      checkpoint: { everyRecords: 50, everyMs: 60_000 },
      maxFailureRate: 1,
      handler: async (r) => {
        calls.push(r.id);
        if (calls.length === stopAt) controller.abort('test');
      },
    });
    // Small runs, so that 2000 keys make several.
    const ledger = openSqliteLedgerFile(path, { keySpillKeys: 64 });
    try {
      return await runJob(job, { ledger, signal: controller.signal });
    } finally {
      await ledger.close();
    }
  };
  return { path, calls, run };
}

/** Changes one byte in every 4 KB page of every run of the key index. */
function damageEveryPage(path: string): void {
  const folder = `${path}.keys.sorted`;
  for (const name of readdirSync(folder).filter((n) => n.endsWith('.bin') && n.startsWith('run-'))) {
    const bytes = readFileSync(join(folder, name));
    for (let at = 20; at < bytes.byteLength; at += 4096) bytes[at]! ^= 1;
    writeFileSync(join(folder, name), bytes);
  }
}

describe('engine: a key index changed on disk', () => {
  it('stops a resume with a StorageError at a changed run page instead of missing a duplicate, and the next run is exact', async () => {
    const { path, calls, run } = setup();
    await run(1500);
    damageEveryPage(path);
    const error = await run().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('STORAGE_DAMAGED');
    expect((error as StorageError).message).toContain('of the key index has a damaged page');

    const summary = await run();
    expect(summary.status).toBe('completed');
    expect(summary.failed).toBe(1);
    // Every id handled over the runs, the second 5 failed as a duplicate, and at most the stopped
    // run's last uncommitted batch (50 records and those in flight) handled twice.
    expect(new Set(calls).size).toBe(RECORDS);
    expect(calls.length - RECORDS).toBeLessThanOrEqual(60);
  });
});
