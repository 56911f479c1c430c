import { readdirSync } from 'node:fs';
import type { RecordReader, Source, SourceItem, SourcePosition } from '../../src/sources/source.js';

/** Reads an async iterable (a source's `read()`) to its end. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** The positions of source items, in order. */
export const positions = (items: SourceItem<unknown>[]): SourcePosition[] => items.map((item) => item.position);

/** How many file descriptors this process has open (Linux: /proc/self/fd), to check a reader closes its file. */
export const openFds = (): number => readdirSync('/proc/self/fd').length;

/**
 * `source` with each record's value passed through `map`, both as it streams and as its reader
 * reads one again; `readsAgain` counts the reader's reads (how many records were stored as their
 * positions and read again).
 */
export function mapRecords<A, B>(source: Source<A>, map: (value: A) => B): Source<B> & { readonly readsAgain: () => number } {
  let reads = 0;
  const mapItem = (item: SourceItem<A>): SourceItem<B> => (item.kind === 'record' ? { ...item, value: map(item.value) } : item);
  const { openReader: sourceReader, ...rest } = source;
  const openReader = sourceReader?.bind(source);
  return {
    ...rest,
    readsAgain: () => reads,
    read: async function* (from, signal) {
      for await (const item of source.read(from, signal)) yield mapItem(item);
    },
    ...(openReader && {
      openReader: async (): Promise<RecordReader<B>> => {
        const reader = await openReader();
        return {
          read: (position) => {
            reads++;
            return mapItem(reader.read(position));
          },
          close: () => reader.close(),
        };
      },
    }),
  };
}
