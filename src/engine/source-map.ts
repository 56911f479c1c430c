/**
 * Matches what the ledger recorded to the source as it is now, by key: one pass over the whole
 * source computing each record's key, looked up in the key index (which holds, for every key read
 * before, the sequence number it had then). Used when the source may have changed between runs.
 *
 * A record keeps the outcome its key had, wherever it now is; a key the ledger never saw is a new
 * record; an outcome whose key is no longer in the source is dropped. Rows stored under a key that
 * is not in the key index (a line that could not be parsed, keyed `@line:N`, or a repeated key) are
 * matched by that key, in order. Memory: the key index twice (16 bytes a key), a bit per record,
 * and the stored rows.
 */
import { counted } from '../domain/counted.js';
import type { Job } from '../job.js';
import type { Ledger, SeqRange, SourceRemap } from '../ledger/ledger.js';
import type { SourcePosition } from '../sources/source.js';
import { keyOfPosition } from '../domain/unusable-record.js';

/** The result of the pass: the remap, and whether it changes anything. */
export interface SourceMap extends SourceRemap {
  /** True when every stored outcome and key is still at its sequence number (a touch, a copy, or records appended). */
  readonly unchanged: boolean;
  /** What moved, for the drift message, e.g. `2 recorded records are no longer in the source; the first change is at line 3`. */
  readonly changes: string;
}

export async function mapSourceByKey(job: Job<any, any>, ledger: Ledger, signal?: AbortSignal): Promise<Omit<SourceMap, 'sample'>> {
  const old = await ledger.keys();
  const ranges: SeqRange[] = [];
  for await (const range of ledger.succeededRanges()) ranges.push(range);
  // Rows keyed by their record's key in the key index are found through it; the others by key, in order.
  const rowSeqs = new Set<number>();
  const unownedRows = new Map<string, number[]>();
  let size = (await ledger.counts()).total;
  for (const range of ranges) size = Math.max(size, range.last + 1);
  old.forEachSeq((seq) => (size = Math.max(size, seq + 1)));
  for await (const row of ledger.rows({ statuses: ['succeeded', 'failed', 'skipped'] })) {
    rowSeqs.add(row.seq);
    size = Math.max(size, row.seq + 1);
    if (old.find(row.key)?.seq === row.seq) continue;
    const queue = unownedRows.get(row.key);
    if (queue) queue.push(row.seq);
    else unownedRows.set(row.key, [row.seq]);
  }
  // The old sequence numbers something is stored for, and those matched to a record now.
  const stored = new Bits(size);
  const matched = new Bits(size);
  for (const range of ranges) for (let seq = range.first; seq <= range.last; seq++) stored.set(seq);
  for (const seq of rowSeqs) stored.set(seq);
  old.forEachSeq((seq) => stored.set(seq));

  const oldToNew = new Int32Array(Math.max(size, 1)).fill(-1);
  const keys = ledger.newKeys(Math.min(Math.ceil(old.size * 1.25), 100_000_000));
  const succeeded: { first: number; last: number }[] = [];
  const moved: { from: number; to: SourcePosition }[] = [];
  let watermark: SourcePosition | undefined;
  let last: SourcePosition | undefined;
  let seen = 0;
  let movedCount = 0;
  let added = 0;
  let firstChange: SourcePosition | undefined;
  const inRange = rangeLookup(ranges);

  for await (const item of job.source.read(undefined, signal)) {
    const position = item.position;
    const seq = position.seq;
    seen = seq + 1;
    last = position;
    let key: string | undefined;
    if (item.kind === 'record') {
      try {
        const value = job.key(item.value);
        if (typeof value === 'string' && value !== '') key = value;
      } catch {
        key = undefined;
      }
    }
    let from = -1;
    if (key !== undefined) {
      keys.add(key, seq, position.line ?? 0);
      const owner = old.find(key);
      if (owner && owner.seq < size && !matched.has(owner.seq)) from = owner.seq;
    }
    if (from < 0) from = takeRow(unownedRows, key ?? keyOfPosition(position), matched);
    let done = false;
    if (from >= 0) {
      matched.set(from);
      oldToNew[from] = seq;
      if (inRange(from)) {
        done = true;
        addToRanges(succeeded, seq);
      } else if (rowSeqs.has(from)) {
        done = true;
        moved.push({ from, to: position });
      }
      if (from !== seq) {
        movedCount++;
        firstChange ??= position;
      }
    } else if (seq < size && stored.has(seq)) {
      firstChange ??= position;
    }
    if (from < 0 && seq < size) added++;
    if (!done && watermark === undefined) watermark = position;
  }

  let dropped = 0;
  for (let seq = 0; seq < size; seq++) if (stored.has(seq) && !matched.has(seq)) dropped++;
  const unchanged = firstChange === undefined && dropped === 0;
  const where = firstChange
    ? `; the first change is at ${firstChange.line !== undefined ? `line ${firstChange.line}` : `record #${firstChange.seq}`}`
    : '';
  const changes =
    [
      movedCount > 0 ? `${counted(movedCount, 'recorded record')} moved` : '',
      added > 0 ? `${counted(added, 'record')} ${added === 1 ? 'is' : 'are'} new within the part read before` : '',
      dropped > 0 ? `${counted(dropped, 'recorded record')} ${dropped === 1 ? 'is' : 'are'} no longer in the source` : '',
    ]
      .filter(Boolean)
      .join(', ') + where;
  return {
    seen,
    succeeded,
    moved,
    keys,
    watermark: watermark ?? last,
    unchanged,
    changes,
    newSeqOf: (oldSeq) => (oldSeq >= 0 && oldSeq < oldToNew.length ? (oldToNew[oldSeq] as number) : -1),
  };
}

function takeRow(rows: Map<string, number[]>, key: string, matched: Bits): number {
  const queue = rows.get(key);
  while (queue && queue.length > 0) {
    const seq = queue.shift() as number;
    if (!matched.has(seq)) return seq;
  }
  return -1;
}

function addToRanges(ranges: { first: number; last: number }[], seq: number): void {
  const previous = ranges[ranges.length - 1];
  if (previous && previous.last + 1 === seq) previous.last = seq;
  else ranges.push({ first: seq, last: seq });
}

/** "Is this seq in one of the sorted ranges?" for seqs asked in any order (binary search). */
function rangeLookup(ranges: readonly SeqRange[]): (seq: number) => boolean {
  return (seq) => {
    let low = 0;
    let high = ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const range = ranges[middle] as SeqRange;
      if (seq < range.first) high = middle - 1;
      else if (seq > range.last) low = middle + 1;
      else return true;
    }
    return false;
  };
}

/** A fixed-size set of small integers, a bit each. */
class Bits {
  private readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(Math.max(size, 1) / 32));
  }
  set(n: number): void {
    if (n >>> 5 < this.words.length) this.words[n >>> 5]! |= 1 << (n & 31);
  }
  has(n: number): boolean {
    return n >>> 5 < this.words.length && (this.words[n >>> 5]! & (1 << (n & 31))) !== 0;
  }
}
