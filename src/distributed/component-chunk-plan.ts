/**
 * The plan of a shared run whose job has `dependsOn`: chunks of whole components of the dependency
 * graph (graph/dependency-components.ts), so that every record's dependencies are in its own chunk
 * and the engine's dependency gate works inside each chunk as over a whole source: a child waits
 * for its parent, a failure skips its descendants, a cycle is refused and a missing key fails its
 * dependents, exactly as in a single run.
 *
 * The first worker reads the source once, through its parser (as chunk-plan.ts does), calling the
 * job's `key` and `dependsOn` on every record. A chunk is then not a contiguous stretch: it lists
 * its records (`members`), starts at its first one's position and spans the items up to its last;
 * its worker reads the span and runs only its members (chunk-ledger.ts). Spans of different chunks
 * overlap where components interleave; where more than SEEK_GAP items lie between two of a chunk's
 * records, the chunk is read in stretches (`segments`) and its worker seeks past the gap.
 *
 * Why whole components rather than chunks that wait on each other: a record depending on another
 * worker's record would have to wait for that worker's commit, poll the ledger for it, and be
 * released by a write it cannot see; and a cycle or a missing key across chunks would be found by
 * nobody. With whole components no dependency leaves its chunk, and nothing new is needed. The
 * price: parallelism is bounded by the largest component (a source that is one component is one
 * chunk, run by one worker), and the planner holds a few typed arrays per record (docs/workers.md).
 */
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import type { Chunk, ChunkPlan, ChunkSegment } from '../ledger/worker-ledger.js';
import type { SourcePosition } from '../sources/source.js';
import { DependencyComponents } from '../graph/dependency-components.js';
import { dependenciesOf } from '../engine/stored-record.js';
import { checkInteger } from '../validation/check.js';
import { assertSplittable, DEFAULT_RECORDS_PER_CHUNK, MAX_RECORDS_PER_CHUNK, notSplittable, type ChunkPlanOptions } from './chunk-plan.js';

/** A plan of whole components, and what the planner tells the user about it. */
export interface ComponentChunkPlan {
  readonly plan: ChunkPlan;
  /** Records in the largest component of the dependency graph: one worker runs them all. */
  readonly largestComponent: number;
  /** Bytes the planner held for the graph and the records' positions, at the end of reading. */
  readonly plannerBytes: number;
}

/**
 * Reads `job.source` once and packs the components of its dependency graph into chunks of at
 * least `recordsPerChunk` records (the last may hold fewer; a larger component is a chunk of its own).
 *
 * @throws {ConfigError} when the source cannot seek, or numbers its items out of order.
 */
export async function planComponentChunks(
  job: Pick<Job<any, any>, 'source' | 'key' | 'dependsOn'>,
  options: ChunkPlanOptions = {},
): Promise<ComponentChunkPlan> {
  const perChunk = checkInteger(options.recordsPerChunk, 'recordsPerChunk', DEFAULT_RECORDS_PER_CHUNK, 1, MAX_RECORDS_PER_CHUNK);
  const source = job.source;
  assertSplittable(source);
  const graph = new DependencyComponents();
  // Every item's position: any of them may open a chunk, which is known once every union is made.
  let offsets = new Float64Array(1024);
  let lines = new Float64Array(1024);
  for await (const item of source.read(undefined, options.signal)) {
    const { seq, line, offset } = item.position;
    if (seq !== graph.records) {
      throw new ConfigError(`source ${source.description} numbered item ${graph.records} as ${seq}: it cannot be split into chunks`);
    }
    if (seq === offsets.length) {
      offsets = grownFloat64(offsets);
      lines = grownFloat64(lines);
    }
    offsets[seq] = offset ?? Number.NaN;
    lines[seq] = line ?? Number.NaN;
    if (item.kind === 'record') {
      const key = usableKey(job, item.value);
      graph.addRecord(key, key === undefined ? [] : safeDependencies(job, item.value));
    } else graph.addRecord(undefined, []);
  }
  const plannerBytes = graph.bytes + offsets.byteLength + lines.byteLength;
  const { chunkOf, chunks: count, largestComponent } = graph.pack(perChunk);
  const members: number[][] = Array.from({ length: count }, () => []);
  for (let seq = 0; seq < chunkOf.length; seq++) (members[chunkOf[seq] as number] as number[]).push(seq);
  const positionOf = (seq: number): SourcePosition => {
    const offset = offsets[seq] as number;
    if (Number.isNaN(offset)) throw notSplittable(source, 'its items carry no position to start reading at');
    const line = lines[seq] as number;
    return { seq, ...(Number.isNaN(line) ? {} : { line }), offset };
  };
  const chunks = members.map((seqs, index): Chunk => {
    const first = seqs[0] as number;
    const segments = stretches(seqs, positionOf);
    return {
      index,
      from: positionOf(first),
      count: (seqs[seqs.length - 1] as number) - first + 1,
      members: seqs,
      ...(segments.length > 1 ? { segments } : {}),
    };
  });
  return { plan: { chunks, total: chunkOf.length }, largestComponent, plannerBytes };
}

/**
 * Items between two records of a chunk past which its worker seeks rather than reads on: reading a
 * JSONL or CSV item is about a microsecond, opening a read at an offset costs about a hundred.
 */
export const SEEK_GAP = 1000;

/** The stretches of `seqs` (sorted) that a worker reads, split where more than SEEK_GAP items lie between two records. */
export function stretches(seqs: readonly number[], positionOf: (seq: number) => SourcePosition): ChunkSegment[] {
  const found: ChunkSegment[] = [];
  let start = seqs[0] as number;
  let last = start;
  for (const seq of seqs) {
    if (seq - last > SEEK_GAP) {
      found.push({ from: positionOf(start), count: last - start + 1 });
      start = seq;
    }
    last = seq;
  }
  found.push({ from: positionOf(start), count: last - start + 1 });
  return found;
}

/** The record's key as the engine takes it, or undefined when the engine fails the record for it. */
export function usableKey(job: Pick<Job<any, any>, 'key'>, value: unknown): string | undefined {
  try {
    const key = job.key(value);
    return typeof key === 'string' && key !== '' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The record's dependencies; none when `dependsOn` throws (the engine fails that record for it). */
export function safeDependencies(job: Pick<Job<any, any>, 'dependsOn'>, value: unknown): readonly string[] {
  if (job.dependsOn === undefined) return [];
  try {
    return dependenciesOf(job as Job<any, any>, value);
  } catch {
    return [];
  }
}

function grownFloat64(array: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const next = new Float64Array(array.length * 2);
  next.set(array);
  return next;
}
