/**
 * Accepted drift in the SQLite ledger: every stored outcome moves to its record's new position, in
 * the caller's transaction, and the key index is replaced by the source's keys as they are now.
 */
import type Database from 'better-sqlite3';
import type { SourceFingerprint } from '../../sources/source.js';
import type { SourceRemap } from '../ledger.js';
import { acceptSource, type Meta } from '../source-state.js';
import { remapSuspects } from './crash-notes.js';

export const SOURCE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS remapped_keys (
  id    INTEGER PRIMARY KEY,
  chunk BLOB NOT NULL
);
`;

/**
 * Moves the stored outcomes to the positions `remap` gives (in the caller's transaction): rows
 * follow their record's key, success ranges are rewritten, outcomes of records no longer in the
 * source are dropped, crash evidence follows its records, and the key index is replaced by the
 * source's keys as they are now (`keyEntries`). `keyFileBytes` is the length of the append-only key
 * file, whose entries are from now on superseded by `remapped_keys` (see ledger-keys.ts).
 */
export function applySourceMap(
  db: Database.Database,
  meta: Meta,
  runId: string,
  fingerprint: SourceFingerprint | undefined,
  remap: SourceRemap,
  keyEntries: Uint8Array,
  keyFileBytes: number,
): void {
  db.exec(
    'CREATE TEMP TABLE IF NOT EXISTS moved_rows (old_seq INTEGER PRIMARY KEY, new_seq INTEGER NOT NULL, line INTEGER, byte_offset INTEGER); DELETE FROM moved_rows;',
  );
  const move = db.prepare('INSERT INTO moved_rows (old_seq, new_seq, line, byte_offset) VALUES (?, ?, ?, ?)');
  for (const { from, to } of remap.moved) move.run(from, to.seq, to.line ?? null, to.offset ?? null);
  db.exec(`DELETE FROM records WHERE seq NOT IN (SELECT old_seq FROM moved_rows);
    UPDATE records SET seq = -1 - seq;
    UPDATE records SET seq = m.new_seq, line = m.line, byte_offset = m.byte_offset FROM moved_rows AS m WHERE m.old_seq = -1 - records.seq;
    DELETE FROM succeeded_ranges;`);
  const range = db.prepare('INSERT INTO succeeded_ranges (first_seq, last_seq, run_id) VALUES (?, ?, ?)');
  for (const { first, last } of remap.succeeded) range.run(first, last, runId);
  remapSuspects(db, (seq) => remap.newSeqOf(seq));
  db.prepare('DELETE FROM remapped_keys').run();
  const chunk = db.prepare('INSERT INTO remapped_keys (chunk) VALUES (?)');
  for (let at = 0; at < keyEntries.length; at += KEY_ROW_BYTES) chunk.run(Buffer.from(keyEntries.subarray(at, at + KEY_ROW_BYTES)));
  meta.set('key_file_skip', String(keyFileBytes));
  meta.set('seen', String(remap.seen));
  meta.set('exhausted', 'true');
  if (remap.watermark) meta.set('watermark', JSON.stringify(remap.watermark));
  else meta.remove('watermark');
  acceptSource(meta, fingerprint, remap.sample, remap.seen);
}

/** Remapped keys are stored in rows of this many bytes (a multiple of the 16-byte entry). */
const KEY_ROW_BYTES = 1024 * 1024;
