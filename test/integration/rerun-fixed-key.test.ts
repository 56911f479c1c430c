/**
 * A job whose `key` function was wrong (it read a field the records do not have, so every key was
 * "undefined" and all records but the first failed as duplicates; or it threw) records those
 * records as invalid, keyed by their position (`@line:N`). Once the function is fixed, `rerun
 * --failed` processes them: the record at that position is the one that failed, the source being
 * unchanged (checked before the run). Before, the re-run took the new key for a sign that the
 * source had changed and left every one of them alone, for good.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { tempDir } from '../helpers/temp.js';

interface Row {
  id: number;
  meta?: { id: number };
}

describe.each([
  { broken: 'reads a missing field', wrongKey: (r: Row) => String((r as unknown as { ID: number }).ID) },
  { broken: 'throws', wrongKey: (r: Row) => String(r.meta!.id) },
])('rerun --failed after a key function that $broken was fixed', ({ wrongKey }) => {
  it('processes the records it had made invalid, each once, and ends with every record succeeded', async () => {
    const dir = tempDir();
    const path = join(dir, 'in.jsonl');
    writeFileSync(path, Array.from({ length: 50 }, (_, id) => `${JSON.stringify({ id })}\n`).join(''));
    const ledger = join(dir, 'l.sqlite');
    let fixed = false;
    const handled: number[] = [];
    const job = defineJob<Row>({
      name: 'fixed-key',
      source: jsonl<Row>(path),
      key: (r) => (fixed ? String(r.id) : wrongKey(r)),
      maxFailureRate: 1,
      handler: async (r) => {
        handled.push(r.id);
      },
    });
    const first = await runJob(job, { ledger });
    expect(first.failed).toBeGreaterThanOrEqual(49);
    fixed = true;
    handled.length = 0;
    const rerun = await runJob(job, { ledger, rerun: {} });
    expect(rerun.warnings).toEqual([]);
    expect(rerun).toMatchObject({ status: 'completed', total: 50, succeeded: 50, failed: 0 });
    expect(handled.length).toBe(first.failed);
    expect(new Set(handled).size).toBe(handled.length);
  });
});

it("a record that repeats another's key stays a duplicate through rerun --failed: its handler is never called", async () => {
  const dir = tempDir();
  const path = join(dir, 'in.jsonl');
  writeFileSync(path, [0, 1, 2, 1, 3].map((id) => `${JSON.stringify({ id })}\n`).join(''));
  const ledger = join(dir, 'l.sqlite');
  const handled: number[] = [];
  const job = defineJob<Row>({
    name: 'true-duplicate',
    source: jsonl<Row>(path),
    key: (r) => String(r.id),
    maxFailureRate: 1,
    handler: async (r) => {
      handled.push(r.id);
    },
  });
  expect(await runJob(job, { ledger })).toMatchObject({ succeeded: 4, failed: 1 });
  expect(handled.sort()).toEqual([0, 1, 2, 3]);
  handled.length = 0;
  const rerun = await runJob(job, { ledger, rerun: {} });
  expect(handled).toEqual([]);
  expect(rerun).toMatchObject({ succeeded: 4, failed: 1, thisRun: { succeeded: 0, failed: 1, skipped: 0 } });
  expect(rerun.topErrors[0]?.templates[0]?.template).toMatch(/^duplicate key/);
});
