/**
 * What a path is when it is not a regular file, as the messages that refuse it say it: the sources,
 * the output and the ledger read or write regular files only (a pipe or a device cannot be read again
 * at an offset nor cut back, and a pipe's open waits for the other end).
 */
import { statSync, type Stats } from 'node:fs';

/** What {@link notRegularKind} calls a folder. */
export const FOLDER = 'a folder';

/** "a folder", "a named pipe (FIFO)", "a socket" or "a device"; undefined for a regular file. */
export function notRegularKind(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  return stats.isDirectory() ? FOLDER : stats.isFIFO() ? 'a named pipe (FIFO)' : stats.isSocket() ? 'a socket' : 'a device';
}

/** The same for the path `path` (symbolic links followed), without opening it; undefined when nothing is there. */
export function notRegularFileAt(path: string): string | undefined {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch {
    return undefined;
  }
  return notRegularKind(stats);
}
