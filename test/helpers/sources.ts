import { readdirSync } from 'node:fs';
import type { SourceItem, SourcePosition } from '../../src/sources/source.js';

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
