/**
 * Sorting the key index's table (key-index.ts) into a new sorted run (sorted-run.ts) when it spills.
 */
import { compare, RunBuilder, type RunStore, type SortedRun } from './sorted-run.js';

const WORDS = 4;
// The sort's buffers, reused: a fresh buffer pays its page faults again (~98 µs a 4 KB page on the
// benchmark host) and its external memory pushes V8 towards a full collection.
let sortScratch = new Uint32Array(0);
const sortBuckets = new Uint32Array(65_537);

/**
 * Sorts the entries of `from` (a KeyIndex's table as it is, its `slots`: four uint32 each, those
 * whose hash is (0, 0) empty and skipped) by hash into a new run. A counting pass over the top 16
 * bits of `hi`, then insertion sort within each bucket: the hashes are uniform, so buckets hold a
 * few entries each and the whole is linear.
 */
export function sortIntoRun(from: Uint32Array, store: RunStore): SortedRun {
  const buckets = sortBuckets.fill(0);
  let count = 0;
  for (let at = 0; at < from.length; at += WORDS) {
    if ((from[at]! | from[at + 1]!) === 0) continue;
    buckets[(from[at]! >>> 16) + 1]!++;
    count++;
  }
  for (let b = 1; b < buckets.length; b++) buckets[b] = buckets[b]! + buckets[b - 1]!;
  if (sortScratch.length < count * WORDS) sortScratch = new Uint32Array(count * WORDS);
  const sorted = sortScratch;
  const next = buckets.slice(0, 65_536);
  for (let at = 0; at < from.length; at += WORDS) {
    if ((from[at]! | from[at + 1]!) === 0) continue;
    // Four stores, not set(subarray()): a subarray is an object a entry, and the collector's work.
    const to = next[from[at]! >>> 16]!++ * WORDS;
    sorted[to] = from[at]!;
    sorted[to + 1] = from[at + 1]!;
    sorted[to + 2] = from[at + 2]!;
    sorted[to + 3] = from[at + 3]!;
  }
  for (let b = 0; b < 65_536; b++) insertionSort(sorted, buckets[b]!, buckets[b + 1]!);
  const builder = new RunBuilder(store);
  for (let at = 0; at < count * WORDS; at += WORDS) builder.push(sorted[at]!, sorted[at + 1]!, sorted[at + 2]!, sorted[at + 3]!);
  return builder.finish();
}

function insertionSort(words: Uint32Array, first: number, end: number): void {
  for (let i = first + 1; i < end; i++) {
    const hi = words[i * WORDS]!;
    const lo = words[i * WORDS + 1]!;
    const seq = words[i * WORDS + 2]!;
    const line = words[i * WORDS + 3]!;
    let j = i - 1;
    // Strictly greater: entries of equal hash keep their order, so the first owner stays first.
    while (j >= first && compare(words[j * WORDS]!, words[j * WORDS + 1]!, hi, lo) > 0) {
      words.copyWithin((j + 1) * WORDS, j * WORDS, j * WORDS + WORDS);
      j--;
    }
    words[(j + 1) * WORDS] = hi;
    words[(j + 1) * WORDS + 1] = lo;
    words[(j + 1) * WORDS + 2] = seq;
    words[(j + 1) * WORDS + 3] = line;
  }
}
