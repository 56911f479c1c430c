/**
 * A source narrowed to one chunk, for the engine's run of that chunk: reading starts at the
 * chunk's first item (the engine asks from the watermark the chunk ledger gave it) and stops after
 * its last. It has no fingerprint: the plan fixed the source, and `readChunk` notices a file that
 * changed since (SOURCE_DRIFT).
 */
import type { Chunk } from '../ledger/worker-ledger.js';
import type { Source } from '../sources/source.js';
import { readChunk } from './read-chunk.js';

export function chunkSource<T>(source: Source<T>, chunk: Chunk): Source<T> {
  const openReader = source.openReader?.bind(source);
  return {
    description: `${source.description} (chunk ${chunk.index})`,
    seekable: true,
    fingerprint: () => Promise.resolve(undefined),
    read: (_from, signal) => readChunk(source, chunk, signal === undefined ? {} : { signal }),
    // Positions are the source's own: a record waiting for its dependencies is read again there.
    ...(openReader === undefined ? {} : { openReader }),
  };
}
