/**
 * Accepted drift in the PostgreSQL ledger: every stored outcome moves to its record's new
 * position, in the caller's transaction (sqlite/sqlite-source-map.ts describes the move).
 */
import type { SourceFingerprint } from '../../sources/source.js';
import type { SourceRemap } from '../ledger.js';
import { acceptSource } from '../source-state.js';
import type { MetaBuffer } from './meta-buffer.js';
import type { Query } from './pg-db.js';
import type { PostgresCrashNotes } from './postgres-crash-notes.js';
import type { PostgresKeys } from './postgres-keys.js';
import { outcomesSql } from './sql/outcomes.js';
import { sourceMapSql } from './sql/source-map.js';

export async function applyPostgresSourceMap(
  query: Query,
  schema: string,
  jobId: number,
  context: {
    runId: string;
    fingerprint: SourceFingerprint | undefined;
    remap: SourceRemap;
    meta: MetaBuffer;
    crashNotes: PostgresCrashNotes;
    keys: PostgresKeys;
  },
): Promise<void> {
  const { remap, meta } = context;
  const sql = sourceMapSql(schema);
  const outcomes = outcomesSql(schema);
  const moved = remap.moved;
  await query(sql.dropGone, [jobId, moved.map((m) => m.from)]);
  await query(sql.negate, [jobId]);
  await query(sql.move, [
    jobId,
    moved.map((m) => m.from),
    moved.map((m) => m.to.seq),
    moved.map((m) => m.to.line ?? null),
    moved.map((m) => m.to.offset ?? null),
  ]);
  await query(sql.clearRanges, [jobId]);
  if (remap.succeeded.length > 0) {
    await query(outcomes.insertRanges, [jobId, remap.succeeded.map((r) => r.first), remap.succeeded.map((r) => r.last), context.runId]);
  }
  await context.crashNotes.remap(query, (seq) => remap.newSeqOf(seq));
  // The key index is replaced by the source's keys at their new positions.
  await context.keys.replace(query, jobId, remap.keys);
  meta.set('seen', String(remap.seen));
  meta.set('exhausted', 'true');
  if (remap.watermark) meta.set('watermark', JSON.stringify(remap.watermark));
  else meta.remove('watermark');
  acceptSource(meta, context.fingerprint, remap.sample, remap.seen);
}
