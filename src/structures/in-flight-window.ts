/**
 * The records started and not yet finished, in the order they were read. The oldest one holds the
 * watermark ("everything before this position is done"). A queue with a moving head instead of a
 * Map: records start in reading order and mostly finish in it, so finishing is O(1) amortised
 * with no hashing on the hot path.
 */
export class InFlightWindow<E> {
  private entries: E[] = [];
  private head = 0;

  /** `done` tells an entry that has its outcome; a pending record (stopped mid-way) is never done. */
  constructor(private readonly done: (entry: E) => boolean) {}

  add(entry: E): void {
    // Records mostly finish in reading order: the finished ones at the head are let go now, not at
    // the next commit. Kept until then, a thousand finished records (and their positions, keys and
    // contexts) survived each young-generation collection and were promoted to the old one: most
    // of the collector's time on a no-op run.
    this.dropFinishedHead();
    this.entries.push(entry);
    // Entries also leave without an outcome to commit (a record set aside by the dependency gate),
    // while nothing asks for the oldest: compacted as the window grows, it stays bounded by the
    // entries still in it (amortised O(1) an add, like compact's own calls).
    if (this.entries.length - this.head >= 2 * this.storedAfterCompact + LINGERING) this.compact();
  }

  /** The oldest entry without an outcome, or undefined. */
  oldest(): E | undefined {
    this.dropFinishedHead();
    return this.entries[this.head];
  }

  /** The entries without an outcome, oldest first (a copy: callers may finish entries while iterating). */
  open(): E[] {
    this.dropFinishedHead();
    const open: E[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i] as E;
      if (!this.done(entry)) open.push(entry);
    }
    return open;
  }

  private dropFinishedHead(): void {
    const entries = this.entries as (E | undefined)[];
    // Each slot passed is cleared, so that the array no longer keeps its entry alive.
    while (this.head < entries.length && this.done(entries[this.head] as E)) entries[this.head++] = undefined;
    // Compact once the finished prefix dominates, so memory stays bounded by the open entries.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /**
   * Drops finished entries behind an old open one (a slow record holding the head while thousands
   * finish after it). It costs a pass over the window: called on a timer, and by `add` only once
   * the window has doubled since the last pass (amortised O(1) an add).
   */
  compact(): void {
    this.dropFinishedHead();
    const stored = this.entries.length - this.head;
    // Only when the window has doubled since the last pass: a pass costs O(stored), so this keeps
    // compaction amortised O(1) per record even with a million records waiting (still open).
    if (stored < 2 * this.storedAfterCompact + LINGERING) return;
    // In place: while a record waits to retry at the head, a pass comes every ~64 adds.
    const entries = this.entries;
    let kept = 0;
    for (let i = this.head; i < entries.length; i++) {
      const entry = entries[i] as E;
      if (!this.done(entry)) entries[kept++] = entry;
    }
    entries.length = kept;
    this.head = 0;
    this.storedAfterCompact = kept;
  }

  private storedAfterCompact = 0;
}

/**
 * Entries stored beyond twice the open ones kept at the last pass, before the next pass drops the
 * finished ones. A record waiting 10 ms to retry holds the head while ~1,000 records finish after
 * it: with 1,024 here they waited for the next pass, survived young-generation collections and were
 * promoted with their positions and keys (bench/compare's failing handler, docs/benchmarks.md). A
 * pass costs the entries it looks at, so any bound keeps it amortised O(1) an add.
 */
const LINGERING = 64;
