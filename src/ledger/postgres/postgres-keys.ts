/**
 * The PostgreSQL ledger's record keys (the `RecordKeys` of ../ledger.ts; what each commit stores is
 * ../pending-keys.ts's): stored as their 16-byte entries in `key_chunks`, one bytea row per commit,
 * written in the commit's own transaction (unlike SQLite's key file, no write happens outside it).
 * After accepted drift the rows are replaced by the source's keys at their new positions.
 */
import type { SpillingKeyIndex } from '../../structures/spilling-key-index.js';
import type { RecordKeys } from '../ledger.js';
import { PendingKeys, remapEntries } from '../pending-keys.js';
import type { Query } from './pg-db.js';
import { outcomesSql } from './sql/outcomes.js';
import { readsSql } from './sql/reads.js';

/** Remapped keys are stored in rows of at most this many bytes (a multiple of the 16-byte entry). */
const KEY_ROW_BYTES = 1024 * 1024;

export class PostgresKeys {
  private readonly keys = new PendingKeys();

  constructor(private readonly schema: string) {}

  /** Every stored key, in a new set whose additions the next commits store. */
  async load(query: Query, jobId: number): Promise<SpillingKeyIndex> {
    const chunks: Uint8Array[] = [];
    const page = readsSql(this.schema).keyChunksPage;
    for (let after = 0; ;) {
      const { rows } = await query(page, [jobId, after]);
      if (rows.length === 0) break;
      for (const row of rows) chunks.push(row.chunk as Buffer);
      after = Number(rows[rows.length - 1]?.id);
    }
    return this.keys.load(chunks);
  }

  /**
   * The entries of the keys added since the last successful commit, for the commit to store in its
   * transaction (undefined: none). Call `committed()` after that commit.
   */
  toCommit(): Uint8Array | undefined {
    return this.keys.take();
  }

  /** The commit succeeded: its keys are stored. */
  committed(): void {
    this.keys.committed();
  }

  /** In the remap's transaction: the remap's keys (from `newKeys`) replace every stored key. */
  async replace(query: Query, jobId: number, keys: RecordKeys): Promise<void> {
    const entries = remapEntries(keys);
    const sql = outcomesSql(this.schema);
    await query(`DELETE FROM "${this.schema}".key_chunks WHERE job_id = $1`, [jobId]);
    for (let at = 0; at < entries.length; at += KEY_ROW_BYTES) {
      await query(sql.insertKeyChunk, [jobId, Buffer.from(entries.subarray(at, at + KEY_ROW_BYTES))]);
    }
    // The run loads the keys again.
    this.keys.forget();
  }
}
