/**
 * The suspects of a crash run in groups by themselves (src/engine/crash-guard.ts, reader.ts). A
 * group whose members all have their outcome committed needs no note to close it: its note blames
 * no record with a committed outcome. Only a group that leaves a member without one writes the
 * closing note that names nobody.
 */
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { resolveLeaseOptions } from '../../src/ledger/lease.js';
import type { InFlightNote } from '../../src/ledger/ledger.js';
import { SqliteLedger } from '../../src/ledger/sqlite/sqlite-ledger.js';
import { openSqliteLedgerFile } from '../../src/ledger/sqlite/open-sqlite-ledger.js';
import type { JobOptions } from '../../src/job.js';
import { itemsJob, type Item } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

const JOB = 'crash-groups';

afterEach(() => vi.restoreAllMocks());

/** A ledger whose last run died with records 0–7 noted as started (a crash in normal mode). */
async function deadRun(path: string): Promise<void> {
  const dying = openSqliteLedgerFile(path, { lease: resolveLeaseOptions({}) });
  await dying.begin({ runId: 'dead-run', job: JOB, fingerprint: undefined, acceptDrift: false, options: {} });
  dying.noteInFlight({ started: [0, 1, 2, 3, 4, 5, 6, 7], ahead: [], group: false });
  // The process lock is let go as a killed process's would be; the run is never finished.
  await dying.close();
}

async function notesOfResume(handler: (id: number) => Promise<void>, options: Partial<JobOptions<Item>> = {}): Promise<InFlightNote[]> {
  const path = join(tempDir(), 'l.sqlite');
  await deadRun(path);
  const notes: InFlightNote[] = [];
  const original = SqliteLedger.prototype.noteInFlight;
  vi.spyOn(SqliteLedger.prototype, 'noteInFlight').mockImplementation(function (this: SqliteLedger, note: InFlightNote) {
    notes.push(structuredClone(note));
    return original.call(this, note);
  });
  const job = itemsJob(JOB, 20, { concurrency: 8, handler: async (r) => handler(r.id), retry: { maxAttempts: 1 }, ...options });
  const summary = await runJob(job, { ledger: path, maxFailureRate: 1 });
  expect(summary.total).toBe(20);
  return notes;
}

const closing = (note: InFlightNote) => !note.group && note.started.length === 0 && note.ahead.length === 0;

it('a group whose members all have their outcome writes its note and no closing one', async () => {
  const notes = await notesOfResume(async () => {});
  const groups = notes.filter((note) => note.group);
  expect(groups.map((note) => [...note.started].sort((a, b) => a - b))).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  expect(notes.filter(closing)).toEqual([]);
});

it('a group that fails a member for good still needs no closing note: the failure is its outcome', async () => {
  const notes = await notesOfResume(async (id) => {
    if (id === 3) throw new Error('bad record');
  });
  expect(notes.filter((note) => note.group)).toHaveLength(1);
  expect(notes.filter(closing)).toEqual([]);
});

it('a group that leaves a member without its outcome (waiting for a dependency read later) closes with a note naming nobody', async () => {
  const notes = await notesOfResume(async () => {}, { dependsOn: (r) => (r.id === 5 ? ['15'] : []) });
  const group = notes.findIndex((note) => note.group);
  expect(group).toBeGreaterThanOrEqual(0);
  expect(notes.slice(group + 1).some(closing)).toBe(true);
});
