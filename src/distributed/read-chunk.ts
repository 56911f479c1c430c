/**
 * A worker's view of its chunk: the source read from the chunk's start, stopped after its last item
 * (or, for a chunk of far-apart records, each of its stretches in turn).
 */
import { SourceError } from '../errors.js';
import type { Chunk, ChunkSegment } from '../ledger/worker-ledger.js';
import { hasBufferedItems, type BufferedItemIterator, type Source, type SourceItem } from '../sources/source.js';

/**
 * Streams the items of `chunk` (sequence numbers `from.seq` … `from.seq + count - 1`), seeking to its
 * start. Items whose sequence number is in `skip` (already recorded by a worker that held the chunk
 * before) are not yielded. Items the source has already read are handed out without a promise
 * (`nextBuffered`), as the source itself does.
 *
 * @throws {SourceError} SOURCE_DRIFT when the source no longer has the planned item at the chunk's
 *   start or ends before the chunk does: the file changed after the run was planned.
 */
export function readChunk<T>(
  source: Source<T>,
  chunk: Chunk,
  options: { readonly skip?: (seq: number) => boolean; readonly signal?: AbortSignal } = {},
): BufferedItemIterator<T> & AsyncIterable<SourceItem<T>> {
  const segments = chunk.segments;
  return segments === undefined || segments.length === 0
    ? new ChunkItems(source, chunk, options)
    : new SegmentItems(source, chunk, segments, options);
}

/**
 * A chunk of far-apart records (`segments`): each stretch read from its own start (a seek), the
 * items between them not at all.
 */
class SegmentItems<T> implements BufferedItemIterator<T>, AsyncIterable<SourceItem<T>> {
  private at = 0;
  private current: ChunkItems<T>;

  constructor(
    private readonly source: Source<T>,
    private readonly chunk: Chunk,
    private readonly segments: readonly ChunkSegment[],
    private readonly options: { readonly skip?: (seq: number) => boolean; readonly signal?: AbortSignal },
  ) {
    this.current = this.open(0);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  nextBuffered(): SourceItem<T> | undefined {
    return this.current.nextBuffered();
  }

  async next(): Promise<IteratorResult<SourceItem<T>>> {
    for (;;) {
      const step = await this.current.next();
      if (!step.done || this.at === this.segments.length - 1) return step;
      this.current = this.open(++this.at);
    }
  }

  return(): Promise<IteratorResult<SourceItem<T>>> {
    return this.current.return();
  }

  private open(index: number): ChunkItems<T> {
    const { from, count } = this.segments[index] as ChunkSegment;
    return new ChunkItems(this.source, { index: this.chunk.index, from, count }, this.options);
  }
}

class ChunkItems<T> implements BufferedItemIterator<T>, AsyncIterable<SourceItem<T>> {
  private readonly items: AsyncIterator<SourceItem<T>>;
  private readonly buffered: BufferedItemIterator<T> | undefined;
  private readonly end: number;
  private expected: number;
  /** The chunk's last item was handed out: the next call closes the source and ends. */
  private last = false;
  private closed = false;
  /** What a `nextBuffered` call found wrong, thrown by the next `next()`. */
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly source: Source<T>,
    private readonly chunk: Chunk,
    private readonly options: { readonly skip?: (seq: number) => boolean; readonly signal?: AbortSignal },
  ) {
    this.items = source.read(chunk.from, options.signal)[Symbol.asyncIterator]();
    this.buffered = hasBufferedItems(this.items) ? this.items : undefined;
    this.end = chunk.from.seq + chunk.count;
    this.expected = chunk.from.seq;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  nextBuffered(): SourceItem<T> | undefined {
    if (this.buffered === undefined || this.failure !== undefined) return undefined;
    while (!this.last) {
      const item = this.buffered.nextBuffered();
      if (item === undefined) return undefined;
      try {
        if (this.take(item)) return item;
      } catch (error) {
        this.failure = { error };
        return undefined;
      }
    }
    return undefined;
  }

  async next(): Promise<IteratorResult<SourceItem<T>>> {
    if (this.failure !== undefined) {
      const { error } = this.failure;
      this.failure = undefined;
      await this.close();
      throw error;
    }
    while (!this.last) {
      const step = await this.items.next();
      if (step.done) {
        this.closed = true;
        if (this.expected < this.end) {
          throw this.changed(`it ends at item ${this.expected}, before the chunk's last item ${this.end - 1}`);
        }
        return { done: true, value: undefined };
      }
      let taken: boolean;
      try {
        taken = this.take(step.value);
      } catch (error) {
        await this.close();
        throw error;
      }
      if (taken) return step;
    }
    // Stops without reading the next chunk's first item: the source's return() closes the file.
    await this.close();
    return { done: true, value: undefined };
  }

  async return(): Promise<IteratorResult<SourceItem<T>>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Checks `item` is the one planned next; true when it is to be handed out (not skipped). */
  private take(item: SourceItem<T>): boolean {
    const { position } = item;
    const { from } = this.chunk;
    if (position.seq !== this.expected || (this.expected === from.seq && position.offset !== from.offset)) {
      throw this.changed(`its item ${this.expected} is not where the plan put it`);
    }
    this.expected++;
    if (this.expected === this.end) this.last = true;
    return this.options.skip?.(position.seq) !== true;
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.items.return?.();
  }

  private changed(what: string): SourceError {
    const { source, chunk } = this;
    return new SourceError(
      'SOURCE_DRIFT',
      `source ${source.description} changed after the run was planned: chunk ${chunk.index} starts at item ${chunk.from.seq}` +
        `${chunk.from.line === undefined ? '' : ` (line ${chunk.from.line})`}, but ${what}. ` +
        'Every worker must read the same file; restore it, or start a new run with a new ledger',
    );
  }
}
