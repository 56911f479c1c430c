/**
 * The PostgreSQL ledger's record keys (the `RecordKeys` of ../ledger.ts): a KeyIndex in memory,
 * stored as its 16-byte entries in `key_chunks`, one bytea row per commit, written in the commit's
 * own transaction (unlike SQLite's key file, no write happens outside it). After accepted drift the
 * rows are replaced by the source's keys at their new positions.
 */
import { KEY_INDEX_ENTRY_BYTES, KEY_INDEX_MAX_EXPECTED_KEYS, KeyIndex, keyIndexFor } from '../../structures/key-index.js';
import type { RecordKeys } from '../ledger.js';
import type { Query } from './pg-db.js';
import { outcomesSql } from './sql/outcomes.js';
import { readsSql } from './sql/reads.js';

/** Remapped keys are stored in rows of at most this many bytes (a multiple of the 16-byte entry). */
const KEY_ROW_BYTES = 1024 * 1024;

export class PostgresKeys {
  /** The set handed to the run by `load`: what it adds is drained into each commit. */
  private current: KeyIndex | undefined;
  /** Entries drained for a commit that has not succeeded: written again with the next one. */
  private pending: Uint8Array | undefined;

  constructor(private readonly schema: string) {}

  /** Every stored key, in a new set whose additions the next commits store. */
  async load(query: Query, jobId: number): Promise<KeyIndex> {
    const chunks: Uint8Array[] = [];
    const page = readsSql(this.schema).keyChunksPage;
    for (let after = 0; ;) {
      const { rows } = await query(page, [jobId, after]);
      if (rows.length === 0) break;
      for (const row of rows) chunks.push(row.chunk as Buffer);
      after = Number(rows[rows.length - 1]?.id);
    }
    // Sized once for what is stored (and room to grow), instead of doubling and rehashing on the way.
    const stored = chunks.reduce((sum, chunk) => sum + chunk.byteLength / KEY_INDEX_ENTRY_BYTES, 0);
    const keys = new KeyIndex({ expectedKeys: Math.min(KEY_INDEX_MAX_EXPECTED_KEYS, Math.ceil(stored * 1.25)) });
    for (const chunk of chunks) keys.load(chunk);
    this.current = keys;
    this.pending = undefined;
    return keys;
  }

  /**
   * The entries of the keys added since the last successful commit, for the commit to store in its
   * transaction (undefined: none). Call `committed()` after that commit.
   */
  toCommit(): Uint8Array | undefined {
    const added = this.current?.drain();
    const chunk = this.pending && added?.length ? concat(this.pending, added) : (this.pending ?? added);
    if (chunk === undefined || chunk.length === 0) return undefined;
    this.pending = chunk;
    return chunk;
  }

  /** The commit succeeded: its keys are stored. */
  committed(): void {
    this.pending = undefined;
  }

  /** In the remap's transaction: the remap's keys (from `newKeys`) replace every stored key. */
  async replace(query: Query, jobId: number, keys: RecordKeys): Promise<void> {
    if (!(keys instanceof KeyIndex)) throw new TypeError('SourceRemap.keys must come from the same ledger (Ledger.newKeys)');
    const entries = keys.drain();
    const sql = outcomesSql(this.schema);
    await query(`DELETE FROM "${this.schema}".key_chunks WHERE job_id = $1`, [jobId]);
    for (let at = 0; at < entries.length; at += KEY_ROW_BYTES) {
      await query(sql.insertKeyChunk, [jobId, Buffer.from(entries.subarray(at, at + KEY_ROW_BYTES))]);
    }
    // The run loads the keys again.
    this.current = undefined;
    this.pending = undefined;
  }
}

/** An empty set of keys for about `expectedKeys` keys. */
export function newPostgresKeys(expectedKeys: number): RecordKeys {
  return keyIndexFor(expectedKeys);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  return both;
}
