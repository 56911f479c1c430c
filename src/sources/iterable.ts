/**
 * Sources over in-memory or generated data: arrays, Sets, generators, async generators, or any
 * other (async) iterable. Such a source cannot seek or tell whether its content changed, so a resume
 * re-reads it from the start and skips the records already seen.
 */
import { ConfigError, SourceError } from '../errors.js';
import type { Source, SourceItem, SourcePosition } from './source.js';

/** Anything iterable, synchronously or not. */
export type AnyIterable<T> = Iterable<T> | AsyncIterable<T>;

/**
 * What a job's `source` accepts: a {@link Source} (`jsonl(...)`, `csv(...)`), an (async) iterable,
 * or a function that creates one. Prefer the function for generators: a generator object can be
 * iterated only once, so resuming or re-running the job in the same process would find it empty.
 */
export type SourceInput<T> = Source<T> | AnyIterable<T> | (() => AnyIterable<T>);

/** Options of {@link fromIterable}. */
export interface IterableSourceOptions {
  /** Shown in logs and reports. @default 'iterable' */
  readonly description?: string;
}

/**
 * A source over `items`, numbering them from 0 in iteration order. Not seekable: `read(from)`
 * iterates again from the start and skips the first `from.seq` items, so the order must be the
 * same every time. `fingerprint()` resolves to undefined (no drift detection).
 *
 * Pass a function (`() => generate()`) rather than a generator object when the source may be read
 * more than once: it is called for every `read()`. A one-shot iterator read a second time throws
 * `SourceError('SOURCE_UNREADABLE')` instead of silently yielding nothing.
 */
export function fromIterable<T>(items: AnyIterable<T> | (() => AnyIterable<T>), options: IterableSourceOptions = {}): Source<T> {
  const description = options.description ?? 'iterable';
  let oneShotRead = false;
  const open = (): AnyIterable<T> => {
    const iterable = typeof items === 'function' ? items() : items;
    if (typeof items !== 'function' && isOneShot(iterable)) {
      if (oneShotRead) {
        throw new SourceError(
          'SOURCE_UNREADABLE',
          `cannot read ${description} again: it is a one-shot iterator (such as a generator object) ` +
            'that an earlier read consumed; pass a function that creates it instead, e.g. `source: () => generate()`',
        );
      }
      oneShotRead = true;
    }
    return iterable;
  };
  return {
    description,
    seekable: false,
    fingerprint: () => Promise.resolve(undefined),
    read: (from, signal) => readIterable(open, from?.seq ?? 0, signal),
  };
}

/**
 * Normalises a job's `source`: a {@link Source} is returned as is, an (async) iterable or a
 * function creating one is wrapped with {@link fromIterable}.
 *
 * @param field the option's name, for the error message.
 * @throws {ConfigError} when `input` is none of these.
 */
export function toSource<T>(input: SourceInput<T>, field = 'source'): Source<T> {
  if (isSource<T>(input)) return input;
  // A string is iterable (by character): almost certainly a path that was meant for jsonl() or csv().
  if (typeof input === 'string') {
    const path = JSON.stringify(input);
    throw new ConfigError(`${field} must be a source, not the string ${path}; for a file use jsonl(${path}) or csv(${path})`, {
      field,
    });
  }
  if (typeof input === 'function') return fromIterable(input, { description: input.name ? `iterable:${input.name}` : 'iterable' });
  if (isIterable(input)) return fromIterable(input);
  throw new ConfigError(
    `${field} must be jsonl(path), csv(path), an Iterable or AsyncIterable, or a function returning one; got ${describeItem(input)}`,
    { field },
  );
}

/** A Source has `read()` and a boolean `seekable`; an array or a generator has neither. */
function isSource<T>(input: unknown): input is Source<T> {
  const candidate = input as Partial<Source<T>> | null;
  return (
    typeof candidate === 'object' && candidate !== null && typeof candidate.read === 'function' && typeof candidate.seekable === 'boolean'
  );
}

function isIterable(input: unknown): input is AnyIterable<unknown> {
  if (input === null || input === undefined) return false;
  const candidate = input as Partial<Iterable<unknown> & AsyncIterable<unknown>>;
  return typeof candidate[Symbol.asyncIterator] === 'function' || typeof candidate[Symbol.iterator] === 'function';
}

/** An iterator that is its own iterable (generators, streams) can be iterated once; arrays and Sets cannot be used up. */
function isOneShot(iterable: AnyIterable<unknown>): boolean {
  const candidate = iterable as Partial<Iterable<unknown> & AsyncIterable<unknown> & Iterator<unknown>>;
  if (typeof candidate.next !== 'function') return false;
  const iterator: unknown = candidate[Symbol.asyncIterator]?.() ?? candidate[Symbol.iterator]?.();
  return iterator === iterable;
}

function describeItem(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an object without read() or [Symbol.iterator]`;
  return typeof value;
}

async function* readIterable<T>(open: () => AnyIterable<T>, skip: number, signal: AbortSignal | undefined): AsyncGenerator<SourceItem<T>> {
  signal?.throwIfAborted();
  const iterable = open();
  const iterator: Iterator<T> | AsyncIterator<T> =
    Symbol.asyncIterator in iterable ? iterable[Symbol.asyncIterator]() : (iterable as Iterable<T>)[Symbol.iterator]();
  let seq = 0;
  let aborted = false;
  try {
    for (;;) {
      // Raced with the signal: a source waiting for data that never comes (a queue, a pager) must
      // not keep a stopping run alive.
      let step: IteratorResult<T>;
      try {
        step = await untilAborted(Promise.resolve(iterator.next()), signal);
      } catch (error) {
        aborted = signal?.aborted === true;
        throw error;
      }
      if (step.done) return;
      const position: SourcePosition = { seq };
      seq++;
      if (position.seq < skip) continue;
      yield { kind: 'record', position, value: step.value };
    }
  } finally {
    // Close the iterator when we stop early; after an abort it may be stuck in an await, so do not wait for it.
    const closing = iterator.return?.();
    if (!aborted) await closing;
    else void Promise.resolve(closing).catch(() => undefined);
  }
}

function untilAborted<V>(promise: Promise<V>, signal: AbortSignal | undefined): Promise<V> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise<V>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
