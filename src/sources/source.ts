/**
 * The contract every source implements. A source streams records in a stable order; each record
 * gets a 0-based sequence number (`seq`) that identifies its position in that order, so the ledger
 * can store successes as ranges of sequence numbers and resume by seeking, not scanning.
 */

/** Where a record is in its source. `line` is 1-based; `offset` is the byte offset of its first byte. */
export interface SourcePosition {
  readonly seq: number;
  readonly line?: number;
  readonly offset?: number;
}

/** One item read from a source: a parsed record, or a part of the input that could not be parsed. */
export type SourceItem<T> =
  | { readonly kind: 'record'; readonly position: SourcePosition; readonly value: T }
  | { readonly kind: 'invalid'; readonly position: SourcePosition; readonly message: string; readonly raw?: string };

/** What the ledger remembers of a source, to notice that it changed between runs. */
export interface SourceFingerprint {
  readonly description: string;
  readonly size?: number;
  readonly mtimeMs?: number;
  /** A hash of a sample of the content (its first bytes). */
  readonly sampleHash?: string;
  /** The file's absolute path with symbolic links resolved, for sources that read a file. */
  readonly path?: string;
}

/**
 * A hash of the bytes around one byte offset of the source (the resume point): stored with the
 * checkpoint and compared before a resume, so that an edit near where the run stopped is noticed
 * even when the file's size and its first bytes did not change.
 */
export interface SourceSample {
  readonly offset: number;
  readonly hash: string;
}

/** A stream of records. */
export interface Source<T> {
  /** A short human-readable description, e.g. `jsonl:data/cities.jsonl`. */
  readonly description: string;
  /** True when `read(from)` seeks to `from.offset` instead of scanning from the start. */
  readonly seekable: boolean;
  /** Identifies the current content; undefined for sources that cannot tell (plain iterables). */
  fingerprint(): Promise<SourceFingerprint | undefined>;
  /** The sample of the bytes around `offset` (see {@link SourceSample}); absent for sources that cannot seek. */
  sampleAt?(offset: number): Promise<SourceSample | undefined>;
  /** The fingerprint's `sampleHash` of the source's first `length` bytes: tells a source that only grew from one that changed. */
  headHash?(length: number): Promise<string | undefined>;
  /**
   * Streams the items from `from` on (the item whose sequence number is `from.seq`, at `from.line`
   * and `from.offset` when the source is seekable), or from the start.
   * Throws `SourceError('SOURCE_UNREADABLE')` when the source cannot be opened.
   */
  read(from?: SourcePosition, signal?: AbortSignal): AsyncIterable<SourceItem<T>>;
  /**
   * The positions of every item from the start, numbered as `read()` numbers them, without parsing
   * the records (each item's `value` is undefined, and an item `read()` would call invalid may be
   * a record here): how a worker plans a shared run (distributed/chunk-plan.ts). Optional: without
   * it, planning reads the items.
   */
  positions?(signal?: AbortSignal): AsyncIterable<SourceItem<unknown>>;
  /**
   * Opens a reader of single records by position (see {@link RecordReader}); absent for sources
   * that cannot read a record again on demand (plain iterables, database tables).
   */
  openReader?(): Promise<RecordReader<T>>;
}

/**
 * Reads one record again at a position the source reported: how a record waiting for its
 * dependencies is kept as its position alone and parsed again when they are met
 * (dependency-gate.ts). Synchronous, so that a record is released in the same turn as the outcome
 * that releases it: one positioned read of a few hundred bytes, from the page cache as a rule
 * (the file was just read).
 */
export interface RecordReader<T> {
  /** The item at `position` (its `seq`, `line` and `offset` as the source reported them). Throws on I/O errors. */
  read(position: SourcePosition): SourceItem<T>;
  close(): Promise<void>;
}

/**
 * An iterator of items that can also hand out, without a promise, an item it has already read. The
 * engine's reader takes items this way while they last and awaits `next()` only when the source
 * must wait for input: a promise and an await per record were a measurable share of a no-op run.
 */
export interface BufferedItemIterator<T> extends AsyncIterator<SourceItem<T>> {
  /**
   * The next item when it is already read; undefined when it is not (or when reading it failed), in
   * which case `next()` gives it, or the error, or the end.
   */
  nextBuffered(): SourceItem<T> | undefined;
}

/** Whether `items` offers {@link BufferedItemIterator.nextBuffered}. */
export function hasBufferedItems<T>(items: AsyncIterator<SourceItem<T>>): items is BufferedItemIterator<T> {
  return typeof (items as Partial<BufferedItemIterator<T>>).nextBuffered === 'function';
}
