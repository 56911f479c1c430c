import { describe, expect, it } from 'vitest';
import { ConfigError, SourceError } from '../errors.js';
import { collect } from '../../test/helpers/sources.js';
import { fromIterable, toSource, type SourceInput } from './iterable.js';
import { jsonl } from './jsonl.js';
import type { SourceItem } from './source.js';

const values = <T>(items: SourceItem<T>[]): T[] => items.map((item) => (item.kind === 'record' ? item.value : (undefined as T)));

async function* letters(): AsyncGenerator<string> {
  yield* ['a', 'b', 'c'];
}

describe('fromIterable', () => {
  it('numbers items from 0 and is neither seekable nor fingerprinted', async () => {
    const source = fromIterable(['a', 'b', 'c']);
    expect(await collect(source.read())).toEqual([
      { kind: 'record', position: { seq: 0 }, value: 'a' },
      { kind: 'record', position: { seq: 1 }, value: 'b' },
      { kind: 'record', position: { seq: 2 }, value: 'c' },
    ]);
    expect(source.seekable).toBe(false);
    expect(await source.fingerprint()).toBeUndefined();
    expect(source.description).toBe('iterable');
    expect(fromIterable([], { description: 'cities' }).description).toBe('cities');
  });

  it('resumes by skipping the first from.seq items (an offset means nothing here)', async () => {
    const source = fromIterable(new Set([10, 20, 30, 40]));
    expect(await collect(source.read({ seq: 2, offset: 999 }))).toEqual([
      { kind: 'record', position: { seq: 2 }, value: 30 },
      { kind: 'record', position: { seq: 3 }, value: 40 },
    ]);
  });

  it('reads async iterables, and a function creating one for every read', async () => {
    const source = fromIterable(letters);
    expect(values(await collect(source.read()))).toEqual(['a', 'b', 'c']);
    expect(values(await collect(source.read({ seq: 1 })))).toEqual(['b', 'c']);
  });

  it('refuses to read a consumed generator object a second time, pointing to the fix', async () => {
    const source = fromIterable(letters());
    expect(values(await collect(source.read()))).toEqual(['a', 'b', 'c']);
    const again = collect(source.read());
    await expect(again).rejects.toBeInstanceOf(SourceError);
    await expect(again).rejects.toThrow(
      'cannot read iterable again: it is a one-shot iterator (such as a generator object) that an earlier read consumed; ' +
        'pass a function that creates it instead, e.g. `source: () => generate()`',
    );
  });

  it('closes the underlying iterator when the consumer stops early', async () => {
    let closed = false;
    function* numbers(): Generator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    for await (const item of fromIterable(numbers).read()) {
      if (item.position.seq === 2) break;
    }
    expect(closed).toBe(true);
  });

  it('stops with the signal’s reason when aborted', async () => {
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const item of fromIterable([1, 2, 3, 4]).read(undefined, controller.signal)) {
        seen.push(item.position.seq);
        if (item.position.seq === 1) controller.abort(new Error('stop now'));
      }
    })();
    await expect(reading).rejects.toThrow('stop now');
    expect(seen).toEqual([0, 1]);
  });
});

describe('toSource', () => {
  it('returns a Source unchanged', () => {
    const source = jsonl('data.jsonl');
    expect(toSource(source)).toBe(source);
  });

  it('wraps arrays, generators, async iterables and functions', async () => {
    const inputs: SourceInput<string>[] = [['a', 'b', 'c'], letters(), letters, () => ['a', 'b', 'c'], new Set(['a', 'b', 'c'])];
    for (const input of inputs) {
      const source = toSource(input);
      expect(source.seekable).toBe(false);
      expect(values(await collect(source.read()))).toEqual(['a', 'b', 'c']);
    }
    expect(toSource(letters).description).toBe('iterable:letters');
  });

  it('rejects what is not a source, naming the field', () => {
    expect(() => toSource('data.jsonl' as unknown as SourceInput<string>)).toThrow(ConfigError);
    expect(() => toSource('data.jsonl' as unknown as SourceInput<string>)).toThrow(
      'source must be a source, not the string "data.jsonl"; for a file use jsonl("data.jsonl") or csv("data.jsonl")',
    );
    expect(() => toSource(42 as unknown as SourceInput<string>, 'job.source')).toThrow(
      'job.source must be jsonl(path), csv(path), an Iterable or AsyncIterable, or a function returning one; got number',
    );
    expect(() => toSource({ read: 'no' } as unknown as SourceInput<string>)).toThrow(
      /got an object without read\(\) or \[Symbol\.iterator\]$/,
    );
    expect(() => toSource(null as unknown as SourceInput<string>)).toThrow(/got null$/);
  });
});
