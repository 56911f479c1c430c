import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { SeqRange } from '../ledger.js';
import { OutcomeWriter } from './outcome-writer.js';
import { SCHEMA_SQL } from './schema.js';

function open(): Database.Database {
  const db = new Database(':memory:');
  db.exec(SCHEMA_SQL);
  return db;
}

function stored(db: Database.Database): unknown[] {
  return db.prepare('SELECT first_seq, last_seq, run_id FROM succeeded_ranges ORDER BY first_seq').all();
}

/**
 * writeRange as it was written before it skipped the delete, statement for statement: look up the
 * range at or before `first`, continue it or start after it, absorb the ranges starting inside,
 * upsert. What the writer stores must stay what this stores.
 */
function referenceWriteRange(db: Database.Database, range: SeqRange, runId: string): void {
  let { first, last } = range;
  const before = db
    .prepare(
      'SELECT first_seq AS first, last_seq AS last, run_id AS runId FROM succeeded_ranges WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1',
    )
    .get(first) as { first: number; last: number; runId: string } | undefined;
  if (before) {
    if (before.last >= last) return;
    if (before.runId === runId && before.last >= first - 1) first = before.first;
    else if (before.last >= first) first = before.last + 1;
  }
  const ends = db
    .prepare('DELETE FROM succeeded_ranges WHERE first_seq > ? AND first_seq <= ? RETURNING last_seq')
    .pluck()
    .all(first, last);
  for (const end of ends as number[]) last = Math.max(last, end);
  db.prepare(
    'INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (?, ?, ?) ON CONFLICT (first_seq) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
  ).run(first, last, runId);
}

/** A small deterministic generator (mulberry32), so that a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('OutcomeWriter.writeRange', () => {
  it('stores what the lookup-absorb-upsert sequence stores, over random ranges of several runs, rewritten batches included', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const next = random(seed);
      const reference = open();
      const tested = open();
      const writer = new OutcomeWriter(tested);
      for (let op = 0; op < 150; op++) {
        const first = Math.floor(next() * 300);
        const last = first + Math.floor(next() * (next() < 0.8 ? 4 : 60));
        const runId = `run-${Math.floor(next() * 3)}`;
        referenceWriteRange(reference, { first, last }, runId);
        writer.writeRange({ first, last }, runId);
        expect(stored(tested), `seed ${seed}, write ${op}: ${first}..${last} of ${runId}`).toEqual(stored(reference));
      }
    }
  });

  it('continues the range a retried record completes, and absorbs the ranges that start inside a wider one', () => {
    const db = open();
    const writer = new OutcomeWriter(db);
    writer.writeRange({ first: 0, last: 9 }, 'r');
    writer.writeRange({ first: 11, last: 20 }, 'r');
    writer.writeRange({ first: 10, last: 10 }, 'r');
    expect(stored(db)).toEqual([
      { first_seq: 0, last_seq: 10, run_id: 'r' },
      { first_seq: 11, last_seq: 20, run_id: 'r' },
    ]);
    writer.writeRange({ first: 5, last: 30 }, 'r');
    expect(stored(db)).toEqual([{ first_seq: 0, last_seq: 30, run_id: 'r' }]);
  });
});
