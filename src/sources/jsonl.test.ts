import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SourceError } from '../errors.js';
import { seededInts } from '../../test/helpers/random.js';
import { collect, openFds } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { jsonl } from './jsonl.js';
import { hasBufferedItems, type SourceItem, type SourcePosition } from './source.js';

const { dir, file } = tempFiles('batchguard-jsonl-', '.jsonl');

const CHUNK_SIZES = [1, 2, 3, 7, 16, 64, undefined];

/** What a reader must produce, computed the obvious way from the whole file. */
function expected(content: Buffer): SourceItem<unknown>[] {
  const items: SourceItem<unknown>[] = [];
  let offset = content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf ? 3 : 0;
  for (let line = 1, seq = 0; offset < content.length; line++) {
    const newline = content.indexOf(10, offset);
    const end = newline === -1 ? content.length : newline;
    const text = content.toString('utf8', offset, end).replace(/\r$/, '');
    if (text.trim() !== '') {
      const position = { seq: seq++, line, offset };
      try {
        items.push({ kind: 'record', position, value: JSON.parse(text) });
      } catch (error) {
        const message = `line ${line}: invalid JSON: ${(error as Error).message}`;
        items.push({ kind: 'invalid', position, message, raw: text.slice(0, 200) });
      }
    }
    offset = end + 1;
  }
  return items;
}

/** A file with every awkward case: BOM, CRLF, blank and whitespace lines, multi-byte text, bad JSON, long lines, no final newline. */
function awkward(seed: number): Buffer {
  const random = seededInts(seed);
  const names = ['Zürich', '東京', 'São Paulo', '🚀 launch', 'plain', 'x'.repeat(300)];
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const kind = random(10);
    if (kind === 0) lines.push('');
    else if (kind === 1) lines.push(' \t ');
    else if (kind === 2) lines.push(`{"id":${i},"broken":`);
    else lines.push(JSON.stringify({ id: i, name: names[random(names.length)] }));
  }
  const body = lines.map((line, i) => line + (i % 3 === 0 ? '\r\n' : '\n')).join('');
  return Buffer.from((seed % 2 === 0 ? '\ufeff' : '') + body + '{"id":"last","no":"newline"}');
}

describe('jsonl', () => {
  it('numbers records with seq, physical line and byte offset, skipping blank lines', async () => {
    const path = file('{"a":1}\n\n   \n{"a":"Zürich"}\r\n{"a":3}');
    expect(await collect(jsonl(path).read())).toEqual([
      { kind: 'record', position: { seq: 0, line: 1, offset: 0 }, value: { a: 1 } },
      { kind: 'record', position: { seq: 1, line: 4, offset: 13 }, value: { a: 'Zürich' } },
      { kind: 'record', position: { seq: 2, line: 5, offset: 30 }, value: { a: 3 } },
    ]);
  });

  it('skips a byte-order mark; the first offset is that of the first byte after it', async () => {
    const path = file('\ufeff{"a":1}\n{"a":2}\n');
    const items = await collect(jsonl(path).read());
    expect(items.map((item) => item.position)).toEqual([
      { seq: 0, line: 1, offset: 3 },
      { seq: 1, line: 2, offset: 11 },
    ]);
  });

  it('reports a line that is not JSON as invalid, with its line number, and reads on', async () => {
    const path = file('{"a":1}\n{"a":\n[1,2]\n');
    const items = await collect(jsonl(path).read());
    expect(items[1]).toEqual({
      kind: 'invalid',
      position: { seq: 1, line: 2, offset: 8 },
      message: expect.stringMatching(/^line 2: invalid JSON: /) as string,
      raw: '{"a":',
    });
    expect(items[2]).toEqual({ kind: 'record', position: { seq: 2, line: 3, offset: 14 }, value: [1, 2] });
  });

  it('keeps only the first 200 characters of an invalid line', async () => {
    const path = file(`{${'x'.repeat(500)}\n`);
    const [item] = await collect(jsonl(path).read());
    expect(item?.kind === 'invalid' && item.raw).toBe(`{${'x'.repeat(199)}`);
  });

  it('gives exact positions whatever the chunk size, for lines spanning reads and multi-byte characters', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const content = awkward(seed);
      const path = file(content);
      for (const chunkSize of CHUNK_SIZES) {
        expect(await collect(jsonl(path, { chunkSize }).read()), `seed ${seed}, chunk ${chunkSize}`).toEqual(expected(content));
      }
    }
  });

  it('reads from any position exactly what a full read gives from there', async () => {
    const path = file(awkward(6));
    for (const chunkSize of [3, undefined]) {
      const all = await collect(jsonl(path, { chunkSize }).read());
      for (let i = 0; i < all.length; i++) {
        const from = all[i]?.position as SourcePosition;
        expect(await collect(jsonl(path, { chunkSize }).read(from))).toEqual(all.slice(i));
      }
    }
  });

  it('seeks without a line number by counting the lines before the offset', async () => {
    const path = file('{"a":1}\n\n{"a":2}\n{"a":3}\n');
    const items = await collect(jsonl(path).read({ seq: 1, offset: 9 }));
    expect(items.map((item) => item.position)).toEqual([
      { seq: 1, line: 3, offset: 9 },
      { seq: 2, line: 4, offset: 17 },
    ]);
  });

  it('without an offset, skips the first from.seq items', async () => {
    const path = file('{"a":1}\n{"a":2}\n\n{"a":3}\n');
    const items = await collect(jsonl(path).read({ seq: 2 }));
    expect(items).toEqual([{ kind: 'record', position: { seq: 2, line: 4, offset: 17 }, value: { a: 3 } }]);
  });

  it('yields nothing for an empty file, or one of blank lines', async () => {
    expect(await collect(jsonl(file('')).read())).toEqual([]);
    expect(await collect(jsonl(file('\n\r\n  \n')).read())).toEqual([]);
    expect(await collect(jsonl(file('\ufeff')).read())).toEqual([]);
  });

  it('answers next() calls made before the previous one settled, in order', async () => {
    const path = file(Array.from({ length: 20 }, (_, i) => `{"i":${i}}`).join('\n'));
    const iterator = jsonl(path, { chunkSize: 5 }).read()[Symbol.asyncIterator]();
    const results = await Promise.all(Array.from({ length: 22 }, () => iterator.next()));
    expect(results.map((result) => (result.done ? 'done' : result.value.position.seq))).toEqual([
      ...Array.from({ length: 20 }, (_, i) => i),
      'done',
      'done',
    ]);
  });

  it('is declared seekable and describes itself', () => {
    const source = jsonl('data/cities.jsonl');
    expect(source.seekable).toBe(true);
    expect(source.description).toBe('jsonl:data/cities.jsonl');
  });
});

describe('jsonl resources', () => {
  const big = file(Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ id: i, pad: 'p'.repeat(40) })).join('\n'));

  it.skipIf(!existsSync('/proc/self/fd'))('closes the file when the consumer stops early', async () => {
    const before = openFds();
    for await (const item of jsonl(big).read()) {
      expect(openFds()).toBe(before + 1);
      if (item.position.seq === 5) break;
    }
    expect(openFds()).toBe(before);
  });

  it.skipIf(!existsSync('/proc/self/fd'))('closes the file after a full read and after an abort', async () => {
    const before = openFds();
    await collect(jsonl(big).read());
    expect(openFds()).toBe(before);

    const controller = new AbortController();
    const reason = new Error('stop now');
    const seen: number[] = [];
    const reading = (async () => {
      for await (const item of jsonl(big).read(undefined, controller.signal)) {
        seen.push(item.position.seq);
        if (item.position.seq === 3) controller.abort(reason);
      }
    })();
    await expect(reading).rejects.toBe(reason);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(openFds()).toBe(before);
  });

  it('hands out read items without a promise (nextBuffered), the same as next() gives, and an abort through next()', async () => {
    const controller = new AbortController();
    const reason = new Error('stop now');
    const items = jsonl(big, { chunkSize: 1000 }).read(undefined, controller.signal)[Symbol.asyncIterator]();
    expect(hasBufferedItems(items)).toBe(true);
    if (!hasBufferedItems(items)) return;
    const seen: number[] = [];
    let buffered = 0;
    for (;;) {
      let item = items.nextBuffered();
      if (item) buffered++;
      else {
        const step = await items.next();
        if (step.done) break;
        item = step.value;
      }
      seen.push(item.position.seq);
      if (item.position.seq === 10_000) controller.abort(reason);
      if (item.position.seq === 10_000) break;
    }
    expect(seen).toEqual(Array.from({ length: 10_001 }, (_, i) => i));
    // Most items came from a chunk already read; the promise path ran once per chunk.
    expect(buffered).toBeGreaterThan(9_000);
    expect(items.nextBuffered()).toBeUndefined();
    await expect(items.next()).rejects.toBe(reason);
  });

  it('does not start reading with a signal that is already aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('too late'));
    await expect(collect(jsonl(big).read(undefined, controller.signal))).rejects.toThrow('too late');
  });
});

describe('jsonl errors and fingerprint', () => {
  it('reports a missing file when reading starts, not when the source is created', async () => {
    const path = join(dir, 'missing.jsonl');
    const source = jsonl(path);
    const reading = collect(source.read());
    await expect(reading).rejects.toBeInstanceOf(SourceError);
    await expect(reading).rejects.toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: `cannot read jsonl source ${path}: no such file (ENOENT)`,
    });
    await expect(source.fingerprint()).rejects.toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: `cannot read jsonl source ${path}: no such file (ENOENT)`,
    });
  });

  it('reports a directory as unreadable', async () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    const unreadable = { code: 'SOURCE_UNREADABLE', message: `cannot read jsonl source ${path}: it is a directory (EISDIR)` };
    await expect(collect(jsonl(path).read())).rejects.toMatchObject(unreadable);
    // The fingerprint and the samples open the file on their own (synchronously).
    await expect(jsonl(path).fingerprint()).rejects.toMatchObject(unreadable);
    await expect(jsonl(path).sampleAt!(0)).rejects.toMatchObject(unreadable);
  });

  it('refuses a named pipe (or another file that is not a regular one), saying what to use for a stream', async () => {
    const path = join(dir, 'a-fifo');
    execFileSync('mkfifo', [path]);
    const unreadable = {
      code: 'SOURCE_UNREADABLE',
      message:
        `cannot read jsonl source ${path}: it is a named pipe (FIFO), not a regular file: a file source is read again to resume ` +
        'and to check it, which a stream cannot be; write the stream to a file first, or pass the records as an (async) iterable (docs/jobs.md)',
    };
    // Opened without waiting for a writer: a read-only open of a FIFO would block until one comes.
    await expect(jsonl(path).fingerprint()).rejects.toMatchObject(unreadable);
    await expect(collect(jsonl(path).read())).rejects.toMatchObject(unreadable);
  });

  it('samples the bytes before an offset and the line that starts there', async () => {
    const path = file(Buffer.from('{"n":1}\n{"n":2}\n{"n":3}\n'));
    const expected = createHash('sha1').update('{"n":1}\n{"n":2}\n').digest('hex');
    await expect(jsonl(path).sampleAt!(8)).resolves.toEqual({ offset: 8, hash: expected });
  });

  it('fingerprints size, mtime, the resolved path and a SHA-1 of the first 64 KiB', async () => {
    const content = Buffer.from('{"n":1}\n'.repeat(10_000));
    const path = file(content);
    const expectedHash = createHash('sha1')
      .update(content.subarray(0, 64 * 1024))
      .digest('hex');
    const fingerprint = await jsonl(path).fingerprint();
    expect(fingerprint).toEqual({
      description: `jsonl:${path}`,
      size: content.length,
      mtimeMs: expect.any(Number) as number,
      sampleHash: expectedHash,
      path: realpathSync(path),
    });
    writeFileSync(path, Buffer.concat([Buffer.from('{"n":2}\n'), content.subarray(8)]));
    expect((await jsonl(path).fingerprint())?.sampleHash).not.toBe(expectedHash);
  });

  it('rejects unsupported options', () => {
    expect(() => jsonl('x', { encoding: 'latin1' as 'utf8' })).toThrow(ConfigError);
    expect(() => jsonl('x', { encoding: 'latin1' as 'utf8' })).toThrow(`jsonl.encoding must be 'utf8', got "latin1"`);
    expect(() => jsonl('x', { chunkSize: 0 })).toThrow('jsonl.chunkSize must be a positive integer, got 0');
  });
});
