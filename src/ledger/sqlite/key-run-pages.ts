/**
 * A sorted run's pages (structures/sorted-run.ts `RunPages`: each page's first hash and CRC-32) in
 * `run-N.pages` beside its `run-N.bin` (key-runs.ts), so that a resume opens the run without reading
 * it. Written by the main thread and by the spill worker (key-run-spill-worker.ts) alike.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { RunRecord } from '../../structures/spilling-key-index.js';
import type { RunPages } from '../../structures/sorted-run.js';
import { crc32 } from 'node:zlib';

const PAGES_MAGIC = 0x50524742; // "BGRP", little-endian
// magic, version, entries, crc, pages; then the fences (two words a page), the page CRCs (one word a
// page) and a CRC-32 of everything before it.
const PAGES_HEADER_WORDS = 5;

/** The pages file of the run file `runName`. */
export function pagesName(runName: string): string {
  return runName.replace(/\.bin$/, '.pages');
}

/** Keeps a run's pages at `path` (before any manifest lists the run). */
export function writeRunPages(path: string, pages: RunPages): void {
  const count = pages.pageCrcs.length;
  const words = new Uint32Array(PAGES_HEADER_WORDS + count * 3 + 1);
  words.set([PAGES_MAGIC, 1, pages.entries, pages.crc, count]);
  words.set(pages.fences, PAGES_HEADER_WORDS);
  words.set(pages.pageCrcs, PAGES_HEADER_WORDS + count * 2);
  const bytes = new Uint8Array(words.buffer);
  words[words.length - 1] = crc32(bytes.subarray(0, bytes.byteLength - 4));
  writeFileSync(path, bytes, { mode: 0o600 });
}

/** The pages kept at `path`, or undefined when they are missing or do not belong to `record`. */
export function readRunPages(path: string, record: RunRecord): RunPages | undefined {
  try {
    const bytes = readFileSync(path);
    if (bytes.byteLength % 4 !== 0 || bytes.byteLength < (PAGES_HEADER_WORDS + 1) * 4) return undefined;
    const words = new Uint32Array(bytes.byteLength / 4);
    new Uint8Array(words.buffer).set(bytes);
    const count = words[4]!;
    if (words[0] !== PAGES_MAGIC || words[1] !== 1 || words[2] !== record.entries || words[3] !== record.crc) return undefined;
    if (words.length !== PAGES_HEADER_WORDS + count * 3 + 1) return undefined;
    if (crc32(bytes.subarray(0, bytes.byteLength - 4)) !== words[words.length - 1]) return undefined;
    const fences = words.subarray(PAGES_HEADER_WORDS, PAGES_HEADER_WORDS + count * 2);
    return {
      entries: record.entries,
      fences,
      pageCrcs: words.subarray(PAGES_HEADER_WORDS + count * 2, words.length - 1),
      crc: record.crc,
    };
  } catch {
    return undefined;
  }
}
