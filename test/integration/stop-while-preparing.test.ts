/**
 * A run stopped (Ctrl-C, `stop()`, an aborted signal) before its first record, while it matches a
 * changed source to the ledger (the drift pass: a read of the whole source), ends as interrupted
 * with a summary, the ledger as it was. Before, the stop's reason was thrown from the pass: the CLI
 * printed "error: SIGINT … This is a bug in batchguard" and exited 70.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

it('a stop during the drift pass ends the run as interrupted, nothing changed, and the next run goes on', async () => {
  const dir = tempDir();
  const path = join(dir, 'in.jsonl');
  writeFileSync(path, Array.from({ length: 2000 }, (_, id) => `${JSON.stringify({ id })}\n`).join(''));
  const ledger = join(dir, 'l.sqlite');
  const job = defineJob<{ id: number }>({ name: 'stop-preparing', source: jsonl(path), key: (r) => String(r.id), handler: async () => {} });
  expect(await runJob(job, { ledger, maxRecords: 100 })).toMatchObject({ status: 'stopped', succeeded: 100 });
  // The first record changed: the next run matches the source to the ledger by key before reading on.
  writeFileSync(path, readFileSync(path, 'utf8').replace('{"id":0}', '{"id":9999}'));
  const stop = new AbortController();
  stop.abort('SIGINT');
  const summary = await runJob(job, { ledger, acceptDrift: true, signal: stop.signal });
  expect(summary).toMatchObject({ status: 'interrupted', succeeded: 100, thisRun: { succeeded: 0, failed: 0, skipped: 0 } });
  expect(summary.reason).toBe(
    'stopped by SIGINT before the first record, while the run was being prepared; nothing was changed; run again to go on',
  );
  const runs = await withStoredLedger(ledger, (stored) => stored.runs(5));
  expect(runs.map((run) => run.status)).toEqual(['interrupted', 'stopped']);
  // Nothing was moved: the next run finds the drift again and settles it.
  expect(await runJob(job, { ledger, acceptDrift: true })).toMatchObject({ status: 'completed', total: 2000, succeeded: 2000 });
});
