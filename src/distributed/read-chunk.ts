/**
 * A worker's view of its chunk: the source read from the chunk's start, stopped after its last item.
 */
import { SourceError } from '../errors.js';
import type { Chunk } from '../ledger/worker-ledger.js';
import type { Source, SourceItem } from '../sources/source.js';

/**
 * Streams the items of `chunk` (sequence numbers `from.seq` … `from.seq + count - 1`), seeking to its
 * start. Items whose sequence number is in `skip` (already recorded by a worker that held the chunk
 * before) are not yielded.
 *
 * @throws {SourceError} SOURCE_DRIFT when the source no longer has the planned item at the chunk's
 *   start or ends before the chunk does: the file changed after the run was planned.
 */
export async function* readChunk<T>(
  source: Source<T>,
  chunk: Chunk,
  options: { readonly skip?: (seq: number) => boolean; readonly signal?: AbortSignal } = {},
): AsyncGenerator<SourceItem<T>> {
  const end = chunk.from.seq + chunk.count;
  let expected = chunk.from.seq;
  for await (const item of source.read(chunk.from, options.signal)) {
    const position = item.position;
    if (position.seq !== expected || (expected === chunk.from.seq && position.offset !== chunk.from.offset)) {
      throw changed(source, chunk, `its item ${expected} is not where the plan put it`);
    }
    expected++;
    if (options.skip?.(position.seq) !== true) yield item;
    // Stops without reading the next chunk's first item: the iterator's return() closes the file.
    if (expected === end) return;
  }
  if (expected < end) throw changed(source, chunk, `it ends at item ${expected}, before the chunk's last item ${end - 1}`);
}

function changed(source: Source<unknown>, chunk: Chunk, what: string): SourceError {
  return new SourceError(
    'SOURCE_DRIFT',
    `source ${source.description} changed after the run was planned: chunk ${chunk.index} starts at item ${chunk.from.seq}` +
      `${chunk.from.line === undefined ? '' : ` (line ${chunk.from.line})`}, but ${what}. ` +
      'Every worker must read the same file; restore it, or start a new run with a new ledger',
  );
}
