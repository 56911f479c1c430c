/**
 * A shared rerun of a job with `dependsOn`: its selection grouped by dependency component, so that
 * a failed parent and the skipped children it blocks (which the selection holds: engine/rerun-plan.ts)
 * are always re-run by one chunk. The chunk's run then does what a single rerun does for them: the
 * parent runs first, and its outcome releases or skips its children again.
 *
 * Only dependencies between selected records join them. A dependency that is not selected (it
 * succeeded, or failed and is not re-run) keeps its outcome through the rerun, so a chunk's run
 * reads it from the ledger as a single rerun does, whichever chunk its dependent is in.
 *
 * Each selected record's dependencies are read from the source at the position the ledger stored
 * for it, stretch by stretch (seeking past more than SEEK_GAP items between two selected records).
 */
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import type { RecordRow } from '../ledger/ledger.js';
import type { ChunkSegment } from '../ledger/worker-ledger.js';
import type { SourcePosition } from '../sources/source.js';
import { DependencyComponents } from '../graph/dependency-components.js';
import { safeDependencies, stretches, usableKey } from './component-chunk-plan.js';
import { readChunk } from './read-chunk.js';

/** A selected row's stored position: where a worker starts reading. */
export function positionOfRow(row: Pick<RecordRow, 'seq' | 'key' | 'line' | 'offset'>): SourcePosition {
  if (row.offset === undefined) {
    throw new ConfigError(
      `record ${JSON.stringify(row.key)} has no stored position to start reading at, so workers cannot share its rerun; rerun without --worker`,
      { field: '--worker' },
    );
  }
  return { seq: row.seq, ...(row.line === undefined ? {} : { line: row.line }), offset: row.offset };
}

/** The stretches a worker reads for `rows` (sorted by seq): more than one when they lie far apart. */
export function rowStretches(rows: readonly RecordRow[]): ChunkSegment[] {
  const bySeq = new Map(rows.map((row) => [row.seq, row]));
  return stretches(
    rows.map((row) => row.seq),
    (seq) => positionOfRow(bySeq.get(seq) as RecordRow),
  );
}

/**
 * Groups `rows` (the selection, in source order) into chunks of whole components of at least
 * `recordsPerChunk` records (the last may hold fewer; a larger component is a chunk of its own),
 * each in source order.
 *
 * @throws {ConfigError} when a selected record has no stored position.
 * @throws {SourceError} SOURCE_DRIFT when the source no longer has the records where they were.
 */
export async function groupByComponent(
  job: Pick<Job<any, any>, 'source' | 'key' | 'dependsOn'>,
  rows: readonly RecordRow[],
  recordsPerChunk: number,
  signal?: AbortSignal,
): Promise<RecordRow[][]> {
  if (rows.length === 0) return [];
  const selected = new Set(rows.map((row) => row.key));
  const graph = new DependencyComponents();
  const segments = rowStretches(rows);
  const first = rows[0] as RecordRow;
  const span = { index: 0, from: positionOfRow(first), count: (rows[rows.length - 1] as RecordRow).seq - first.seq + 1, segments };
  let next = 0;
  for await (const item of readChunk(job.source, span, signal === undefined ? {} : { signal })) {
    const row = rows[next];
    if (row === undefined || item.position.seq !== row.seq) continue;
    next++;
    // A record no longer where the ledger put it is left alone by the rerun (with a warning): no edges.
    const found = item.kind === 'record' && usableKey(job, item.value) === row.key;
    const deps = found ? safeDependencies(job, item.value).filter((dep) => selected.has(dep)) : [];
    graph.addRecord(row.key, deps);
  }
  const { chunkOf, chunks } = graph.pack(recordsPerChunk);
  const groups: RecordRow[][] = Array.from({ length: chunks }, () => []);
  rows.forEach((row, i) => (groups[chunkOf[i] as number] as RecordRow[]).push(row));
  return groups;
}
