/**
 * A source narrowed to one chunk, for the engine's run of that chunk: reading starts at the
 * chunk's first item (the engine asks from the watermark the chunk ledger gave it) and stops after
 * its last. It has no fingerprint: the plan fixed the source, and `readChunk` notices a file that
 * changed since (SOURCE_DRIFT).
 */
import type { Chunk } from '../ledger/worker-ledger.js';
import type { Source } from '../sources/source.js';
import { readChunk } from './read-chunk.js';

/**
 * Records of a chunk up to which the records waiting for their dependencies are held whole (about
 * 0.6 KB each, so at most ~40 MB) rather than stored as their positions and read again: storing
 * costs each chunk's run a table of its own (~330 KB, first touched), which over small chunks cost
 * more CPU than the reading it saves (6 µs a record over 50,000 records in chunks of 781).
 */
export const WHOLE_WAITERS_UP_TO = 65_536;

export function chunkSource<T>(source: Source<T>, chunk: Chunk): Source<T> {
  // A big chunk of dependency components (one component can be the whole source) stores its
  // waiting records as positions, as a single run does: held whole, they could fill the memory.
  const big = (chunk.members?.length ?? chunk.selected?.length ?? 0) > WHOLE_WAITERS_UP_TO;
  const openReader = big ? source.openReader?.bind(source) : undefined;
  return {
    description: `${source.description} (chunk ${chunk.index})`,
    seekable: true,
    fingerprint: () => Promise.resolve(undefined),
    read: (_from, signal) => readChunk(source, chunk, signal === undefined ? {} : { signal }),
    // Positions are the source's own: a record waiting for its dependencies is read again there.
    ...(openReader === undefined ? {} : { openReader }),
  };
}
