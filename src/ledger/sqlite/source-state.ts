/**
 * The SQLite ledger's record of its source: the fingerprint, the absolute path and the sample of
 * the bytes at the resume point (checked by `begin`), and the rewrite that moves every stored
 * outcome to its record's new position after accepted drift.
 */
import type Database from 'better-sqlite3';
import { SourceError } from '../../errors.js';
import type { SourceFingerprint, SourceSample } from '../../sources/source.js';
import type { ResumeState, SourceRemap } from '../ledger.js';
import { ACCEPT_DRIFT_DOES, describeDrift } from '../lease.js';
import { remapSuspects } from './crash-notes.js';

export const SOURCE_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS remapped_keys (
  id    INTEGER PRIMARY KEY,
  chunk BLOB NOT NULL
);
`;

type Meta = { get(key: string): string | undefined; set(key: string, value: string): void; remove(key: string): void };

/**
 * Compares the source now with what the ledger stored. Throws SOURCE_MOVED when the job reads
 * another file, and SOURCE_DRIFT when the content changed, unless `acceptDrift`. Stores the new
 * fingerprint when nothing changed; otherwise leaves that to the engine, once it has matched the
 * outcomes by key (so that a crash meanwhile finds the drift again).
 */
export function checkSource(
  meta: Meta,
  location: string,
  fingerprint: SourceFingerprint | undefined,
  sample: SourceSample | undefined,
  acceptDrift: boolean,
  headHash?: string,
): ResumeState['drift'] {
  if (fingerprint === undefined) return undefined;
  const storedPath = meta.get('source_path');
  if (storedPath !== undefined && fingerprint.path !== undefined && storedPath !== fingerprint.path && !acceptDrift) {
    throw new SourceError(
      'SOURCE_MOVED',
      `the ledger ${location} records the source ${storedPath}, but the job now reads ${fingerprint.path}; ` +
        "run from where the job resolves the same file, point the job at it, use another ledger for the other file, or pass --accept-drift to take the new file as this ledger's source",
    );
  }
  const storedJson = meta.get('source_fingerprint');
  if (storedJson === undefined) {
    storeFingerprint(meta, fingerprint);
    return undefined;
  }
  const stored = JSON.parse(storedJson) as SourceFingerprint;
  const changes: string[] = [];
  if (storedPath !== undefined && fingerprint.path !== undefined && storedPath !== fingerprint.path) {
    changes.push(`it was ${storedPath}, now ${fingerprint.path}`);
  }
  const storedSample = parse<SourceSample>(meta.get('source_sample'));
  const sampleChanged =
    storedSample !== undefined && sample !== undefined && storedSample.offset === sample.offset && storedSample.hash !== sample.hash;
  // Larger, with the same first bytes and the same bytes at the resume point: probably records
  // appended, which the engine confirms by key without asking for --accept-drift.
  const grew = stored.size !== undefined && fingerprint.size !== undefined && fingerprint.size > stored.size;
  if (
    changes.length === 0 &&
    grew &&
    !sampleChanged &&
    headHash !== undefined &&
    headHash === stored.sampleHash &&
    stored.description === fingerprint.description
  ) {
    return { reason: `it grew by ${(fingerprint.size as number) - (stored.size as number)} bytes`, certain: false };
  }
  const content = describeDrift(stored, fingerprint);
  if (content) changes.push(content);
  if (sampleChanged) changes.push(`the bytes around the resume point (byte ${(sample as SourceSample).offset}) differ`);
  if (changes.length > 0) {
    const reason = changes.join('; ');
    if (!acceptDrift) {
      throw new SourceError('SOURCE_DRIFT', `the source changed since the ledger last read it (${reason}). ${ACCEPT_DRIFT_DOES}`);
    }
    return { reason, certain: true };
  }
  // The same size and sampled bytes, but written since: an edit elsewhere, or only a touch or a copy.
  if (stored.mtimeMs !== undefined && fingerprint.mtimeMs !== undefined && stored.mtimeMs !== fingerprint.mtimeMs) {
    return { reason: 'it was modified since the ledger last read it', certain: false };
  }
  // A ledger written before paths were recorded learns its source's path now.
  if (storedPath === undefined && fingerprint.path !== undefined) meta.set('source_path', fingerprint.path);
  return undefined;
}

function storeFingerprint(meta: Meta, fingerprint: SourceFingerprint | undefined): void {
  if (fingerprint === undefined) return;
  meta.set('source_fingerprint', JSON.stringify(fingerprint));
  if (fingerprint.path !== undefined) meta.set('source_path', fingerprint.path);
}

/** The source as it is now is the reference; `seen` is its record count (the engine read it whole). */
export function acceptSource(meta: Meta, fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): void {
  storeFingerprint(meta, fingerprint);
  if (sample) meta.set('source_sample', JSON.stringify(sample));
  else meta.remove('source_sample');
  if (seen > Number(meta.get('seen') ?? 0)) meta.set('seen', String(seen));
}

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

function parse<T>(text: string | undefined): T | undefined {
  return text === undefined ? undefined : (JSON.parse(text) as T);
}
