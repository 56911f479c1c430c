/**
 * A source that changed between runs, with real files and ledgers: whatever the edit, every
 * record of the source as it is now is handled exactly once over the runs, and the counts are
 * those of the source as it is now.
 */
import { readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runJob } from '../../src/engine/run-job.js';
import type { RunOptions } from '../../src/engine/run-options.js';
import { SourceError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { drive } from '../helpers/drive.js';
import { withDatabase } from '../helpers/ledger.js';
import { tempDir } from '../helpers/temp.js';

interface Row {
  id: number;
}

/** A record line of a fixed width (so that an edit can keep the file's size). */
const line = (id: number): string => JSON.stringify({ id, name: `record-${String(id).padStart(40, '0')}` });
const write = (path: string, ids: number[]): void => writeFileSync(path, ids.map((id) => `${line(id)}\n`).join(''));
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

function setup(name: string) {
  const dir = tempDir();
  const file = join(dir, 'in.jsonl');
  const ledger = join(dir, 'l.sqlite');
  const calls: number[] = [];
  const job = defineJob<Row>({
    name,
    source: jsonl<Row>(file),
    key: (r) => String(r.id),
    concurrency: 4,
    checkpoint: { everyRecords: 100, everyMs: 60_000 },
    handler: async (r) => {
      calls.push(r.id);
    },
  });
  const clock = new ManualClock();
  const run = (options: RunOptions = {}) => drive(runJob(job, { ledger, clock, ...options }), clock);
  const refusal = async (): Promise<SourceError> => {
    try {
      await run();
    } catch (error) {
      if (error instanceof SourceError) return error;
      throw error;
    }
    throw new Error('expected the run to refuse');
  };
  const counts = async () => {
    const check = openLedger(ledger).ledger;
    try {
      return await check.counts();
    } finally {
      await check.close();
    }
  };
  return { file, ledger, calls, run, refusal, counts };
}

/** Every id called exactly once, and nothing else. */
function expectEachOnce(calls: number[], ids: number[]): void {
  expect([...calls].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
}

describe('drift: outcomes follow their records by key', () => {
  it('truncation below the watermark: the counts are those of the shorter source, nothing is redone', async () => {
    const t = setup('truncated');
    write(t.file, range(0, 5000));
    expect(await t.run()).toMatchObject({ total: 5000, succeeded: 5000 });
    write(t.file, range(0, 3000));
    expect((await t.refusal()).code).toBe('SOURCE_DRIFT');
    const summary = await t.run({ acceptDrift: true });
    expect(summary).toMatchObject({ status: 'completed', total: 3000, succeeded: 3000, failed: 0, pending: 0 });
    expect(summary.warnings[0]).toContain('2000 recorded records are no longer in the source');
    expectEachOnce(t.calls, range(0, 5000));
    expect(await t.counts()).toMatchObject({ total: 3000, succeeded: 3000, failed: 0, skipped: 0, pending: 0 });
  });

  it('a line inserted before the watermark is processed, once; nothing else is redone', async () => {
    const t = setup('inserted');
    write(t.file, range(0, 1000));
    expect(await t.run({ maxRecords: 600 })).toMatchObject({ status: 'stopped' });
    const ids = range(0, 1000);
    ids.splice(100, 0, 5000);
    write(t.file, ids);
    const refusal = await t.refusal();
    expect(refusal.message).toContain(
      'With --accept-drift, batchguard reads the whole source once and matches what the ledger recorded to its records by key',
    );
    const summary = await t.run({ acceptDrift: true });
    expect(summary).toMatchObject({ status: 'completed', total: 1001, succeeded: 1001, failed: 0, pending: 0 });
    expectEachOnce(t.calls, ids);
  });

  it('a same-size edit past the first 64 KiB is detected (by key, as the modification time changed), and accepted loses nothing', async () => {
    const t = setup('same-size');
    const ids = range(0, 3000);
    write(t.file, ids);
    expect(await t.run({ maxRecords: 2500 })).toMatchObject({ status: 'stopped' });
    const size = statSync(t.file).size;
    // Lines 1501 and 1502 (past 64 KiB, far from the resume point) trade places, and a done record's key changes.
    [ids[1500], ids[1501]] = [ids[1501] as number, ids[1500] as number];
    ids[1200] = 9_200;
    write(t.file, ids);
    expect(statSync(t.file).size).toBe(size);
    expect(readFileSync(t.file).subarray(0, 65_536)).toEqual(
      Buffer.from(
        range(0, 3000)
          .map((id) => `${line(id)}\n`)
          .join(''),
      ).subarray(0, 65_536),
    );
    const refusal = await t.refusal();
    expect(refusal.code).toBe('SOURCE_DRIFT');
    expect(refusal.message).toContain(
      '2 recorded records moved, 1 record is new within the part read before, 1 recorded record is no longer in the source; the first change is at line 1201',
    );
    const summary = await t.run({ acceptDrift: true });
    expect(summary).toMatchObject({ status: 'completed', total: 3000, succeeded: 3000, failed: 0, pending: 0 });
    expectEachOnce(t.calls, [...range(0, 3000), 9_200]);
  });

  it('an edit at the resume point is detected even when the modification time is put back', async () => {
    const t = setup('at-watermark');
    const ids = range(0, 3000);
    write(t.file, ids);
    expect(await t.run({ maxRecords: 2500 })).toMatchObject({ status: 'stopped' });
    const { atime, mtime } = statSync(t.file);
    // The records around the resume point are rewritten with other ids of the same width.
    for (let i = 2490; i < 2510; i++) ids[i] = 800_000 + i;
    write(t.file, ids);
    utimesSync(t.file, atime, mtime);
    expect((await t.refusal()).message).toContain('the bytes around the resume point');
    const summary = await t.run({ acceptDrift: true });
    expect(summary).toMatchObject({ status: 'completed', total: 3000, succeeded: 3000, pending: 0 });
    // Run 1 handled 0…2499 (2490…2499 are gone since); run 2 the new ids and 2510…2999.
    expectEachOnce(t.calls, [...range(0, 2500), ...range(2490, 2510).map((i) => 800_000 + i), ...range(2510, 3000)]);
  });

  it('a touched or copied source whose keys did not move is not drift', async () => {
    const t = setup('touched');
    write(t.file, range(0, 1000));
    await t.run({ maxRecords: 500 });
    write(t.file, range(0, 1000));
    expect(await t.run()).toMatchObject({ status: 'completed', total: 1000, succeeded: 1000 });
    expectEachOnce(t.calls, range(0, 1000));
  });

  it('records appended to a finished source are processed without --accept-drift', async () => {
    const t = setup('appended');
    write(t.file, range(0, 500));
    await t.run();
    write(t.file, range(0, 800));
    expect(await t.run()).toMatchObject({ status: 'completed', total: 800, succeeded: 800 });
    expectEachOnce(t.calls, range(0, 800));
  });

  it('a re-run checks the key at each stored position: a record that moved unnoticed is left alone, not re-run in its place', async () => {
    const t = setup('rerun-key');
    const ids = range(0, 3000);
    write(t.file, ids);
    const failing = defineJob<Row>({
      name: 'rerun-key',
      source: jsonl<Row>(t.file),
      key: (r) => String(r.id),
      retry: { maxAttempts: 1 },
      handler: async (r) => {
        t.calls.push(r.id);
        if (r.id === 1000) throw new Error('bad record');
      },
    });
    const clock = new ManualClock();
    expect(await drive(runJob(failing, { ledger: t.ledger, clock }), clock)).toMatchObject({ succeeded: 2999, failed: 1 });
    // Swapped with its neighbour, same size, far from the resume point; the ledger is made to take
    // the new file for the old one (as an edit whose modification time was put back exactly would).
    [ids[1000], ids[1001]] = [ids[1001] as number, ids[1000] as number];
    write(t.file, ids);
    const fingerprint = JSON.stringify(await jsonl(t.file).fingerprint());
    // Raw SQL on purpose: tampering with the stored fingerprint is what no Ledger method does.
    withDatabase(t.ledger, (db) => db.prepare("UPDATE meta SET value = ? WHERE key = 'source_fingerprint'").run(fingerprint));
    t.calls.length = 0;
    const rerun = await t.run({ rerun: {} });
    expect(t.calls).toEqual([]);
    expect(rerun.warnings.join('\n')).toContain(
      '1 of the selected records are no longer where the ledger recorded them (the source changed), left alone',
    );
    expect(rerun).toMatchObject({ failed: 1, succeeded: 2999 });
  });

  it('a line with invalid UTF-8 fails as invalid, naming its line and byte offset, and its handler is not called', async () => {
    const t = setup('utf8');
    const good = Buffer.from(`${line(1)}\n`);
    const bad = Buffer.concat([Buffer.from('{"id":2,"name":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]);
    writeFileSync(t.file, Buffer.concat([good, bad, Buffer.from(`${line(3)}\n`)]));
    const summary = await t.run();
    expect(summary).toMatchObject({ total: 3, succeeded: 2, failed: 1 });
    expect(t.calls.sort()).toEqual([1, 3]);
    expect(summary.topErrors[0]?.message).toContain(`line 2: invalid UTF-8 at byte offset ${good.length + 19} (bytes 0xe9 0x22 0x7d)`);
  });
});
