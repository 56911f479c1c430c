/**
 * The job's `meta` rows loaded into memory for the length of one transaction, so that the source
 * checks shared with the SQLite ledger (../source-state.ts), which read and write meta
 * synchronously, run unchanged; `flush` then writes what they changed in two statements.
 */
import type { Query } from './pg-db.js';
import { metaSql } from './sql/meta.js';

export class MetaBuffer {
  private readonly changed = new Map<string, string | undefined>();

  private constructor(private readonly values: Map<string, string>) {}

  static async load(query: Query, schema: string, jobId: number): Promise<MetaBuffer> {
    const { rows } = await query(metaSql(schema).all, [jobId]);
    return new MetaBuffer(new Map(rows.map((row) => [String(row.key), String(row.value)])));
  }

  get(key: string): string | undefined {
    return this.values.get(key);
  }

  set(key: string, value: string): void {
    this.values.set(key, value);
    this.changed.set(key, value);
  }

  remove(key: string): void {
    this.values.delete(key);
    this.changed.set(key, undefined);
  }

  /**
   * Writes the changes: a value set here replaces the stored one, even `seen` when it shrinks,
   * whose row is deleted first (the upsert would keep the larger: sql/meta.ts); the upsert replaces
   * every other key, so only removed keys and `seen` cost a DELETE.
   */
  async flush(query: Query, schema: string, jobId: number): Promise<void> {
    if (this.changed.size === 0) return;
    const sql = metaSql(schema);
    const deleted = [...this.changed].filter(([key, value]) => value === undefined || key === 'seen').map(([key]) => key);
    if (deleted.length > 0) await query(sql.remove, [jobId, deleted]);
    const set = [...this.changed].filter((entry): entry is [string, string] => entry[1] !== undefined);
    if (set.length > 0) await query(sql.set, [jobId, set.map(([key]) => key), set.map(([, value]) => value)]);
    this.changed.clear();
  }
}
