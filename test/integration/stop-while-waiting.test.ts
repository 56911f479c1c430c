/**
 * A run that waits for another run's lease (a holder on another host that stopped renewing it, or a
 * SIGSTOPped one) says so at once, and a stop (Ctrl-C) ends the wait: before, the waiting run said
 * nothing and ignored Ctrl-C until the lease expired (15 s by default, or the `--lease` given).
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { itemsJob } from '../helpers/jobs.js';
import { withDatabase } from '../helpers/ledger.js';
import { withStoredLedger } from '../helpers/stored.js';
import { tempDir } from '../helpers/temp.js';

it('says it waits for the held lease, and a stop ends the wait at once: interrupted, the run never begun', async () => {
  const path = join(tempDir(), 'l.sqlite');
  const holder = openSqliteLedgerFile(path, { lease: resolveLeaseOptions({}) });
  await holder.begin({ runId: 'holder-run', job: 'waiting', fingerprint: undefined, acceptDrift: false, options: {} });
  // The holder "dies" on another host: no process lock proves it gone, its lease runs for a minute.
  await holder.close();
  withDatabase(path, (db) => db.prepare("UPDATE lease SET host = 'another-host', expires_at = ?").run(Date.now() + 60_000));

  const events: EngineEvent[] = [];
  const stop = new AbortController();
  const started = Date.now();
  const summary = await runJob(itemsJob('waiting', 10), {
    ledger: path,
    signal: stop.signal,
    onEvent: (event) => {
      events.push(event);
      if (event.type === 'run:waiting') setTimeout(() => stop.abort('SIGINT'), 200);
    },
  });
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(events.find((event) => event.type === 'run:waiting')).toMatchObject({ holder: { runId: 'holder-run', host: 'another-host' } });
  expect(summary).toMatchObject({ status: 'interrupted', thisRun: { succeeded: 0, failed: 0, skipped: 0 } });
  expect(summary.reason).toBe(
    "stopped by SIGINT while waiting for another run's lease on the ledger, before this run began; nothing was done; run again to go on",
  );
  // No row of a run that never began, and the holder's lease is as it was.
  const runs = await withStoredLedger(path, (stored) => stored.runs(5));
  expect(runs.map((run) => run.runId)).toEqual(['holder-run']);
});
