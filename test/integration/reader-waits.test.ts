/**
 * The summary's `waits`: where the reading of records waited. A ledger slow to commit shows as
 * `ledgerMs`, one slow to store crash notes as `notesMs`, handlers slower than the concurrency as
 * `slotsMs`, the suspects of an earlier crash running by themselves as `groupsMs`. Real timers: each wait is at least its timer, so only lower bounds and orders are checked.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import { memoryLedger } from '../../src/testing/index.js';
import { itemsJob } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

/** A memory ledger whose commits take `commitMs` and whose crash notes take `noteMs` to be stored. */
function slowLedger(commitMs: number, noteMs: number): Ledger {
  const ledger: Ledger = memoryLedger();
  const commit = ledger.commit.bind(ledger);
  ledger.commit = async (batch) => {
    await sleep(commitMs);
    return commit(batch);
  };
  if (noteMs > 0) {
    const note = ledger.noteInFlight.bind(ledger);
    ledger.noteInFlight = async (inFlight) => {
      await sleep(noteMs);
      await note(inFlight);
    };
  }
  return ledger;
}

describe("the summary's waits", () => {
  it('name the ledger when its commits are what the reading waited for', async () => {
    const ledger = slowLedger(30, 0);
    const summary = await runJob(itemsJob('waits-ledger', 100, { checkpoint: { everyRecords: 10 } }), { ledger });
    expect(summary.status).toBe('completed');
    const waits = summary.waits;
    if (waits === undefined) throw new Error('the summary has no waits');
    // Ten commits of 30 ms, each waited for before reading on (the last one after the loop).
    expect(waits.ledgerMs).toBeGreaterThanOrEqual(8 * 25);
    expect(waits.ledgerMs).toBeGreaterThan(waits.slotsMs);
    expect(waits.breakerMs).toBe(0);
  });

  it('name the slots when the handlers are slower than the concurrency', async () => {
    const summary = await runJob(
      itemsJob('waits-slots', 60, { concurrency: 2, handler: () => sleep(10).then(() => 'ok'), checkpoint: { everyRecords: 1000 } }),
      { ledger: memoryLedger() },
    );
    const waits = summary.waits;
    if (waits === undefined) throw new Error('the summary has no waits');
    // 60 records of 10 ms two at a time: the reading waited for a slot ~300 ms in all.
    expect(waits.slotsMs).toBeGreaterThanOrEqual(200);
    expect(waits.ledgerMs).toBeLessThan(waits.slotsMs);
    expect(waits.notesMs).toBe(0);
  });

  it('name the crash notes when a ledger stores them slowly', async () => {
    const ledger = slowLedger(0, 40);
    const summary = await runJob(itemsJob('waits-notes', 50), { ledger });
    const waits = summary.waits;
    if (waits === undefined) throw new Error('the summary has no waits');
    // The first record waits for the first note to be stored.
    expect(waits.notesMs).toBeGreaterThanOrEqual(30);
  });

  it('name the crash groups when the suspects of an earlier crash ran by themselves', async () => {
    const path = join(tempDir(), 'l.sqlite');
    // The run before died with records 0–3 noted as started: this run's suspects.
    const dying = openSqliteLedgerFile(path, { lease: resolveLeaseOptions({}) });
    await dying.begin({ runId: 'dead-run', job: 'waits-groups', fingerprint: undefined, acceptDrift: false, options: {} });
    dying.noteInFlight({ started: [0, 1, 2, 3], ahead: [], group: false });
    await dying.close();
    const handler = async (record: { id: number }) => {
      if (record.id < 4) await sleep(150);
      return 'ok';
    };
    const summary = await runJob(itemsJob('waits-groups', 40, { concurrency: 8, handler }), { ledger: path });
    expect(summary.succeeded).toBe(40);
    const waits = summary.waits;
    if (waits === undefined) throw new Error('the summary has no waits');
    // The group (the four suspects, run together) took at least its handlers' 150 ms; the rest of
    // the run waited for nothing of it.
    expect(waits.groupsMs).toBeGreaterThanOrEqual(140);
    expect(waits.slotsMs).toBeLessThan(140);
  });

  it('count no crash groups in a run after a clean one', async () => {
    const summary = await runJob(itemsJob('waits-no-groups', 40), { ledger: memoryLedger() });
    expect(summary.waits?.groupsMs).toBe(0);
  });
});
