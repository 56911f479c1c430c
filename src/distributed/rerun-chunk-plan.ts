/**
 * A shared rerun's plan: the records the rerun selects (the same selection as a single process's
 * rerun, engine/rerun-plan.ts), fixed once by the worker that plans, and split into chunks of
 * `recordsPerChunk` selected records each.
 *
 * A chunk starts at its first selected record's stored position (sequence number, line, byte
 * offset: the ledger kept where every failed record was) and spans the items up to its last one;
 * its worker seeks there, reads the span, and hands only the chunk's selected records to the
 * handler, each checked to still have its key. Why chunks of the selection, and not the run's
 * source chunks that hold selected records:
 * - a rerun's work is its selected records, not the source: a chunk of 1,000 failures is the same
 *   work wherever they are, while a source chunk may hold one failure or ten thousand;
 * - the failed records may come from any earlier run, single-process runs included, which have no
 *   source chunks; and a source chunk holding one failure would be read whole for one call;
 * - the selection must be fixed when planned: a record that fails again in the rerun, or a later
 *   run's failures, must not join or leave it while the workers work. Stored with the chunks, it is.
 * Reading is the cheap part (a JSONL record is parsed in microseconds, a handler call is I/O): the
 * spans of all chunks together are read once at most, as a single rerun reads from its first
 * selected record to its last.
 *
 * A job with `dependsOn` is packed by dependency component instead (rerun-components.ts): a chunk
 * holds a failed parent with the skipped children it blocks, and is read in stretches where its
 * records lie far apart, so that chunks whose spans interleave do not each read the whole of them.
 */
import { createHash } from 'node:crypto';
import type { Job } from '../job.js';
import { rerunPlan } from '../engine/rerun-plan.js';
import type { RerunOptions } from '../engine/run-options.js';
import type { Ledger, RecordRow } from '../ledger/ledger.js';
import type { Chunk, ChunkPlan } from '../ledger/worker-ledger.js';
import { checkInteger } from '../validation/check.js';
import { MAX_RECORDS_PER_CHUNK } from './chunk-plan.js';
import { groupByComponent, positionOfRow, rowStretches } from './rerun-components.js';

/**
 * Selected records per chunk of a rerun. Smaller than a run's (10,000 records): a rerun selects a
 * few percent of a source, and at 10,000 a rerun of 5,000 failures would be one chunk, one worker.
 * @default 1000
 */
export const DEFAULT_RERUN_RECORDS_PER_CHUNK = 1000;

/** A shared rerun's plan, and what the planner says about it. */
export interface RerunChunkPlan {
  readonly plan: ChunkPlan;
  /** `--keys`: keys given that are not among the selected records (not failed, or not in the ledger at all). */
  readonly keysNotSelected: readonly string[];
}

/**
 * Selects the records `rerun` re-runs from `ledger` and splits them into chunks. With a `job` that
 * has `dependsOn`, a chunk holds whole components of the selection (rerun-components.ts), so that
 * a failed parent and the children it blocks are re-run together.
 */
export async function planRerunChunks(
  ledger: Pick<Ledger, 'rows'>,
  rerun: RerunOptions,
  options: {
    readonly recordsPerChunk?: number;
    readonly job?: Pick<Job<any, any>, 'source' | 'key' | 'dependsOn'>;
    readonly signal?: AbortSignal;
  } = {},
): Promise<RerunChunkPlan> {
  const perChunk = checkInteger(options.recordsPerChunk, 'recordsPerChunk', DEFAULT_RERUN_RECORDS_PER_CHUNK, 1, MAX_RECORDS_PER_CHUNK);
  const { rows } = await rerunPlan(ledger, rerun);
  const { job } = options;
  const groups: RecordRow[][] = [];
  if (job?.dependsOn !== undefined) groups.push(...(await groupByComponent(job, rows, perChunk, options.signal)));
  else for (let i = 0; i < rows.length; i += perChunk) groups.push(rows.slice(i, i + perChunk));
  const chunks = groups.map((group, index) => chunkOf(index, group, job?.dependsOn !== undefined));
  const selected = new Set(rows.map((row) => row.key));
  return { plan: { chunks, total: rows.length }, keysNotSelected: (rerun.keys ?? []).filter((key) => !selected.has(key)) };
}

/** A chunk of `rows` (in source order); a chunk of components whose rows lie far apart is read in stretches. */
function chunkOf(index: number, rows: readonly RecordRow[], components: boolean): Chunk {
  const first = rows[0] as RecordRow;
  const last = rows[rows.length - 1] as RecordRow;
  const segments = components ? rowStretches(rows) : [];
  return {
    index,
    from: positionOfRow(first),
    count: last.seq - first.seq + 1,
    selected: rows.map((row) => ({
      seq: row.seq,
      key: row.key,
      ...(row.fingerprint === undefined ? {} : { fingerprint: row.fingerprint }),
    })),
    ...(segments.length > 1 ? { segments } : {}),
  };
}

/**
 * What a rerun selects, as one string: workers join a running rerun only with the same one. The
 * keys of `--keys` are a digest (the file may hold millions); the order they were listed in does not matter.
 */
export function rerunIdentity(rerun: RerunOptions): string {
  const parts = ['--failed'];
  if (rerun.fingerprint !== undefined) parts.push(`--error ${rerun.fingerprint}`);
  if (rerun.kind !== undefined) parts.push(`--kind ${rerun.kind}`);
  if (rerun.keys !== undefined) {
    const keys = [...new Set(rerun.keys)].sort();
    const digest = createHash('sha256');
    for (const key of keys) digest.update(`${JSON.stringify(key)}\n`);
    parts.push(`--keys sha256:${digest.digest('hex').slice(0, 16)} (${keys.length} keys)`);
  }
  return parts.join(' ');
}
