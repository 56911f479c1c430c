/**
 * Chunk planning: a source split into pieces that workers on other machines can each read on their
 * own. A chunk is a starting position (seq, line, byte offset or key) and a number of items.
 *
 * Boundaries are found by reading the source once, from the start, through the source's own
 * parser, and noting the position of every N-th item. That is exact by construction: a boundary is
 * a position the parser itself reported, so a newline inside a quoted CSV field, a blank JSONL line
 * or a byte-order mark can never be mistaken for one. The alternative, guessing a boundary from an
 * arbitrary byte offset (seek to size/k and scan to the next newline), is wrong for CSV: from the
 * middle of a file nothing tells whether a newline is inside quotes, and each worker's sequence
 * numbers would not be known without counting everything before it anyway. The price is one read of
 * the source by the worker that plans (`npm run bench:workers` prints it), not by the others. A
 * source that can tell its items' positions without parsing them (`positions`: JSONL, whose items
 * are its non-blank lines) is read that way.
 */
import { ConfigError } from '../errors.js';
import type { Chunk, ChunkPlan } from '../ledger/worker-ledger.js';
import { hasBufferedItems, type Source } from '../sources/source.js';
import { checkInteger } from '../validation/check.js';

/** Options of {@link planChunks}. */
export interface ChunkPlanOptions {
  /**
   * Items per chunk (the last one may hold fewer). Smaller chunks spread the end of a run more
   * evenly over the workers; each one costs a lease (a row and a round trip). @default 10000
   */
  readonly recordsPerChunk?: number;
  readonly signal?: AbortSignal;
}

/** @default 10000 */
export const DEFAULT_RECORDS_PER_CHUNK = 10_000;
/** The most records a chunk may be asked to hold (`recordsPerChunk`). */
export const MAX_RECORDS_PER_CHUNK = 2 ** 31;

/**
 * Reads `source` once and splits it into chunks of `recordsPerChunk` items.
 *
 * @throws {ConfigError} when the source cannot seek (a plain iterable): a worker could not start
 *   reading at its chunk.
 */
export async function planChunks(source: Source<unknown>, options: ChunkPlanOptions = {}): Promise<ChunkPlan> {
  const perChunk = checkInteger(options.recordsPerChunk, 'recordsPerChunk', DEFAULT_RECORDS_PER_CHUNK, 1, MAX_RECORDS_PER_CHUNK);
  assertSplittable(source);
  const chunks: Chunk[] = [];
  let total = 0;
  // Iterated by hand: an item the source has already read is taken without a promise (nextBuffered).
  const items = (source.positions?.(options.signal) ?? source.read(undefined, options.signal))[Symbol.asyncIterator]();
  const buffered = hasBufferedItems(items) ? items : undefined;
  let ended = false;
  try {
    for (;;) {
      let item = buffered?.nextBuffered();
      if (item === undefined) {
        const step = await items.next();
        if (step.done) break;
        item = step.value;
      }
      const position = item.position;
      if (position.seq !== total) {
        throw new ConfigError(`source ${source.description} numbered item ${total} as ${position.seq}: it cannot be split into chunks`);
      }
      if (total % perChunk === 0) {
        if (position.offset === undefined) throw notSplittable(source, 'its items carry no position to start reading at');
        if (chunks.length > 0) chunks[chunks.length - 1] = { ...(chunks[chunks.length - 1] as Chunk), count: perChunk };
        chunks.push({ index: chunks.length, from: { seq: position.seq, line: position.line, offset: position.offset }, count: 0 });
      }
      total++;
    }
    ended = true;
  } finally {
    // What for-await does on an early exit: let the source close its file or cursor.
    if (!ended) await items.return?.();
  }
  const last = chunks[chunks.length - 1];
  if (last !== undefined) chunks[chunks.length - 1] = { ...last, count: total - last.from.seq };
  return { chunks, total };
}

/** Throws the ConfigError of a source that workers could not share. */
export function assertSplittable(source: Source<unknown>): void {
  if (!source.seekable) throw notSplittable(source, 'it cannot start reading in the middle');
}

/** The ConfigError of a source that workers cannot share, and why (the end of a sentence). */
export function notSplittable(source: Source<unknown>, reason: string): ConfigError {
  return new ConfigError(
    `source ${source.description} cannot be shared by several workers: ${reason}. ` +
      'Use jsonl(path) or csv(path) on storage every worker can read, or postgresTable(...)',
    { field: 'source' },
  );
}
