/**
 * The CLI over 100,000 records is SIGKILLed mid-run and resumed: every record ends with exactly one
 * outcome, and the handler calls redone are at most one checkpoint batch plus the records in flight.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, spawnCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { expectOneOutcomeEach, rowsOf, storedRanges, withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 100_000;
const CONCURRENCY = 8;
const CHECKPOINT = 1000;

function lineCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'utf8');
  return text.length === 0 ? 0 : text.split('\n').length - 1;
}

describe('crash and resume (real process, SIGKILL)', () => {
  it('redoes at most one checkpoint batch plus the in-flight records', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    // A scratch folder: no package.json, no node_modules; the job imports 'batchguard' anyway.
    writeFileSync(
      join(dir, 'job.ts'),
      `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';

interface Rec { id: number; name: string }

export default defineJob({
  name: 'crash-test',
  source: jsonl<Rec>(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  checkpoint: { everyRecords: ${CHECKPOINT}, everyMs: 60_000 },
  handler: async (r) => {
    appendFileSync(${JSON.stringify(join(dir, 'calls.log'))}, r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 1));
  },
});
`,
    );
    const calls = join(dir, 'calls.log');
    const first = spawnCli(['run', 'job.ts', '--no-progress'], { cwd: dir });
    await waitFor(() => lineCount(calls) >= 25_000, 60_000);
    first.kill('SIGKILL');
    const killed = await first.result;
    expect(killed.signal).toBe('SIGKILL');
    const callsBeforeResume = lineCount(calls);
    expect(callsBeforeResume).toBeLessThan(RECORDS);

    const ledger = join(dir, '.batchguard', 'crash-test.sqlite');
    const committed = (await storedRanges(ledger)).reduce((sum, range) => sum + range.last - range.first + 1, 0);
    expect(committed).toBeGreaterThan(0);

    const second = await runCli(['run', 'job.ts', '--json'], { cwd: dir });
    expect(second.stderr).toContain('resuming');
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout);
    expect(summary).toMatchObject({
      status: 'completed',
      total: RECORDS,
      succeeded: RECORDS,
      failed: 0,
      pending: 0,
      alreadyDone: committed,
    });

    // Every record has exactly one outcome, a first-time success: ranges that are disjoint and cover 0..RECORDS-1, no row.
    await withStoredLedger(ledger, async (stored) => {
      expect(await rowsOf(stored)).toEqual([]);
      await expectOneOutcomeEach(stored, RECORDS);
    });

    // Each record was called at least once; the redone calls are bounded.
    const ids = readFileSync(calls, 'utf8').trim().split('\n').map(Number);
    expect(new Set(ids).size).toBe(RECORDS);
    const redone = ids.length - RECORDS;
    expect(redone).toBeGreaterThanOrEqual(0);
    expect(redone).toBeLessThanOrEqual(CHECKPOINT + CONCURRENCY);
    expect(callsBeforeResume - committed).toBe(redone);
  }, 120_000);
});
