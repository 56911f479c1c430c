/**
 * How the SQLite ledger writes outcomes, inside a commit's transaction: first-time successes as
 * ranges of sequence numbers, everything else as one row per record (see ../ledger.ts).
 */
import type Database from 'better-sqlite3';
import type { RecordRow, SeqRange } from '../ledger.js';

/** A row of succeeded_ranges. */
interface StoredRange {
  readonly first: number;
  readonly last: number;
  readonly runId: string;
}

export class OutcomeWriter {
  private readonly statements;

  constructor(db: Database.Database) {
    this.statements = {
      rangeAtOrBefore: db.prepare(
        'SELECT first_seq AS first, last_seq AS last, run_id AS runId FROM succeeded_ranges WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1',
      ),
      absorbRanges: db.prepare('DELETE FROM succeeded_ranges WHERE first_seq > ? AND first_seq <= ? RETURNING last_seq').pluck(),
      upsertRange: db.prepare(
        'INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (?, ?, ?) ON CONFLICT (first_seq) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq)',
      ),
      upsertRow:
        db.prepare(`INSERT INTO records (seq, key, status, kind, attempts, error, fingerprint, template, rule, history, blocked_by, run_id, line, byte_offset, updated_at)
        VALUES (@seq, @key, @status, @kind, @attempts, @error, @fingerprint, @template, @rule, @history, @blockedBy, @runId, @line, @offset, @updatedAt)
        ON CONFLICT (seq) DO UPDATE SET key = excluded.key, status = excluded.status, kind = excluded.kind,
          attempts = excluded.attempts, error = excluded.error, fingerprint = excluded.fingerprint, template = excluded.template, rule = excluded.rule,
          history = excluded.history, blocked_by = excluded.blocked_by, run_id = excluded.run_id, line = excluded.line, byte_offset = excluded.byte_offset,
          updated_at = excluded.updated_at`),
    };
  }

  /**
   * Stores a range of first-time successes: it extends the run's range that it continues (one row
   * per contiguous run of successes), and what is already stored is not stored again. The range it
   * continues is looked up, not remembered between commits: a remembered range is wrong after its
   * transaction rolled back, and a batch written twice must not count its successes twice. A stored
   * range starting where this one is stored from is grown, never cut short.
   */
  writeRange(range: SeqRange, runId: string): void {
    let { first, last } = range;
    // The stored range starting last at or before `last`: when it starts at or before `first` too, it
    // is the range this one continues, and no stored range starts inside this one, so there is
    // nothing to absorb (the common case: one lookup instead of a lookup and a delete).
    const nearest = this.statements.rangeAtOrBefore.get(last) as StoredRange | undefined;
    const inside = nearest !== undefined && nearest.first > first;
    const before = inside ? (this.statements.rangeAtOrBefore.get(first) as StoredRange | undefined) : nearest;
    if (before) {
      if (before.last >= last) return;
      if (before.runId === runId && before.last >= first - 1) first = before.first;
      else if (before.last >= first) first = before.last + 1;
    }
    if (inside) for (const end of this.statements.absorbRanges.all(first, last) as number[]) last = Math.max(last, end);
    this.statements.upsertRange.run(first, last, runId);
  }

  /** Stores a record's row, replacing any earlier row of the same seq: one row per record. */
  writeRow(row: RecordRow): void {
    this.statements.upsertRow.run({
      seq: row.seq,
      key: row.key,
      status: row.status,
      kind: row.kind ?? null,
      attempts: row.attempts,
      error: row.error ? JSON.stringify(row.error) : null,
      fingerprint: row.fingerprint ?? null,
      template: row.template ?? null,
      rule: row.rule ?? null,
      history: row.history && row.history.length > 0 ? JSON.stringify(row.history) : null,
      blockedBy: row.blockedBy ? JSON.stringify(row.blockedBy) : null,
      runId: row.runId,
      line: row.line ?? null,
      offset: row.offset ?? null,
      updatedAt: row.updatedAt,
    });
  }
}
