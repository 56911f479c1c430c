/**
 * A sorted run's file (`run-N.bin`, key-runs.ts), written and read the same way by the main thread
 * (KeyRunFiles) and by the spill worker (key-run-spill-worker.ts).
 */
import { constants, openSync, readSync, writeSync } from 'node:fs';
import type { RunBytes, RunSink } from '../../structures/sorted-run.js';
import { pagesName, writeRunPages } from './key-run-pages.js';

/**
 * Creates the run file at `path` (emptied if it exists; only the job's user reads it) and a sink that
 * writes it, calling `appended` after each block, and its pages beside it at the end, where the run
 * is `whole(fd, bytes)`. The caller keeps `fd` (for the run's reads) and closes it.
 */
export function createRunFile(
  path: string,
  whole: (fd: number, bytes: number) => RunBytes,
  appended?: () => void,
): { readonly fd: number; readonly sink: RunSink } {
  const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC, 0o600);
  let bytes = 0;
  const sink: RunSink = {
    append: (chunk) => {
      for (let written = 0; written < chunk.byteLength;)
        written += writeSync(fd, chunk, written, chunk.byteLength - written, bytes + written);
      bytes += chunk.byteLength;
      appended?.();
    },
    finish: (pages) => {
      writeRunPages(pagesName(path), pages);
      return whole(fd, bytes);
    },
  };
  return { fd, sink };
}

/** The first `bytes` of the run file `name`, read through `fd`. */
export function runFileBytes(name: string, fd: number, bytes: number): RunBytes {
  return { name, bytes, read: (offset, into) => readSync(fd, into, 0, Math.min(into.byteLength, bytes - offset), offset) };
}
