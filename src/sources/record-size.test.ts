import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { collect, positions } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { csv } from './csv.js';
import { jsonl } from './jsonl.js';
import type { SourceItem } from './source.js';

const { file } = tempFiles('batchguard-record-size-', '.txt');

/** Each item as the id of its record, or `invalid@<line>`. */
function outline(items: SourceItem<unknown>[]): string[] {
  return items.map((item) => (item.kind === 'record' ? String((item.value as { id: unknown }).id) : `invalid@${item.position.line}`));
}

describe('a JSON Lines line longer than maxRecordBytes', () => {
  const long = `{"id":1,"blob":"${'a'.repeat(5000)}"}`;

  it.each([1, 7, 100, undefined])(
    'is one invalid item naming its line; its bytes are skipped and reading goes on (chunkSize %s)',
    async (chunkSize) => {
      const path = file(`{"id":0}\n${long}\n{"id":2}\n\n{"id":3}\n`);
      const items = await collect(jsonl(path, { maxRecordBytes: 1024, chunkSize }).read());
      expect(items).toEqual([
        { kind: 'record', position: { seq: 0, line: 1, offset: 0 }, value: { id: 0 } },
        {
          kind: 'invalid',
          position: { seq: 1, line: 2, offset: 9 },
          message: 'line 2: longer than maxRecordBytes (1 KiB): not read (jsonl.maxRecordBytes raises the limit)',
        },
        { kind: 'record', position: { seq: 2, line: 3, offset: 10 + long.length }, value: { id: 2 } },
        { kind: 'record', position: { seq: 3, line: 5, offset: 20 + long.length }, value: { id: 3 } },
      ]);
    },
  );

  it('counts bytes, not characters: a line of exactly maxRecordBytes is read, one byte more is not, whatever the reads', async () => {
    // Each é is two bytes of UTF-8: lines of 1,024 and 1,025 bytes, then a three-byte character's line past the limit.
    const lines = [`{"s":"${'é'.repeat(508)}"}`, `{"s":"${'é'.repeat(508)}x"}`, '{"x":1}', `{"s":"${'€'.repeat(400)}"}`];
    expect(lines.map((line) => Buffer.byteLength(line))).toEqual([1024, 1025, 7, 1208]);
    const path = file(lines.join('\n') + '\n');
    for (const chunkSize of [1, 2, 3, 5, 64, 1000, undefined]) {
      const items = await collect(jsonl(path, { maxRecordBytes: 1024, chunkSize }).read());
      expect(items.map((item) => item.kind)).toEqual(['record', 'invalid', 'record', 'invalid']);
    }
  });

  it('also as the last line, without a line break; and from a position after it', async () => {
    const path = file(`{"id":0}\n${long}`);
    expect(outline(await collect(jsonl(path, { maxRecordBytes: 1024, chunkSize: 64 }).read()))).toEqual(['0', 'invalid@2']);
    const after = file(`${long}\n{"id":2}\n`);
    const from = { seq: 1, line: 2, offset: long.length + 1 };
    expect(await collect(jsonl(after, { maxRecordBytes: 1024 }).read(from))).toEqual([
      { kind: 'record', position: from, value: { id: 2 } },
    ]);
  });

  it('read again by position, is the same invalid item', async () => {
    const path = file(`{"id":0}\n${long}\n{"id":2}\n`);
    const source = jsonl(path, { maxRecordBytes: 1024 });
    const reader = await source.openReader!();
    const position = { seq: 1, line: 2, offset: 9 };
    expect(reader.read(position)).toEqual({
      kind: 'invalid',
      position,
      message: 'line 2: longer than maxRecordBytes (1 KiB): not read (jsonl.maxRecordBytes raises the limit)',
    });
    expect(reader.read({ seq: 2, line: 3, offset: 10 + long.length })).toMatchObject({ kind: 'record', value: { id: 2 } });
    await reader.close();
  });
});

describe('a CSV record that does not end', () => {
  const rows = (broken: number, count = 30): string =>
    ['id,name', ...Array.from({ length: count }, (_, i) => (i === broken ? `${i},"opened here` : `${i},n${i}`))].join('\n') + '\n';
  const everyId = (count: number, broken: number): string[] =>
    Array.from({ length: count }, (_, i) => (i === broken ? `invalid@${broken + 2}` : String(i)));

  it.each([1, 5, 64, undefined])(
    'a quote never closed fails only the record where it opens; the records on the lines after it are read (chunkSize %s)',
    async (chunkSize) => {
      const items = await collect(csv(file(rows(10)), { chunkSize }).read());
      expect(outline(items)).toEqual(everyId(30, 10));
      expect(positions(items).map((p) => p.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(items[10]).toMatchObject({
        kind: 'invalid',
        position: { line: 12 },
        message: expect.stringContaining('line 12: Quote Not Closed'),
      });
      expect(items[11]).toMatchObject({ position: { seq: 11, line: 13 } });
    },
  );

  it('a record longer than maxRecordBytes fails alone (a quote closed far below), and reading goes on at the line after its first', async () => {
    const filler = Array.from({ length: 200 }, (_, i) => `${100 + i},text of row ${100 + i}`);
    const content = ['id,name', '0,a', '1,"opened', ...filler, '300,closed",x', '301,b'].join('\n') + '\n';
    const items = await collect(csv(file(content), { maxRecordBytes: 1024, chunkSize: 100 }).read());
    expect(items[1]).toMatchObject({
      kind: 'invalid',
      position: { seq: 1, line: 3 },
      message: 'line 3: longer than maxRecordBytes (1 KiB): a quote opened in it and never closed? Reading went on at line 4',
    });
    const ids = outline(items);
    expect(ids.slice(0, 3)).toEqual(['0', 'invalid@3', '100']);
    expect(ids).toContain('301');
    expect(ids).toContain('299');
  });

  it.each([16, 100, undefined])(
    'a record that ends, but longer than maxRecordBytes, is invalid and cut at its first line whatever the reads; a read by position says so alike (chunkSize %s)',
    async (chunkSize) => {
      const big = `"${'word '.repeat(300)}\n${'more '.repeat(100)}"`;
      const source = csv(file(`id,name\n0,a\n1,${big}\n2,b\n`), { maxRecordBytes: 1024, chunkSize });
      const items = await collect(source.read());
      // Its second line is read as a record of its own (here a quote error): every read cuts it there.
      expect(outline(items)).toEqual(['0', 'invalid@3', 'invalid@4', '2']);
      expect(items[1]).toMatchObject({
        message: 'line 3: longer than maxRecordBytes (1 KiB): a quote opened in it and never closed? Reading went on at line 4',
      });
      expect(items[3]).toMatchObject({ position: { seq: 3, line: 5 } });
      const reader = await source.openReader!();
      expect(reader.read(items[1]!.position)).toEqual({
        kind: 'invalid',
        position: items[1]!.position,
        message: (items[1] as { message: string }).message,
      });
      await reader.close();
    },
  );

  it('read again by position, a record longer than maxRecordBytes is the same invalid item', async () => {
    const filler = Array.from({ length: 200 }, (_, i) => `${100 + i},text of row ${100 + i}`);
    const path = file(['id,name', '0,a', '1,"opened', ...filler].join('\n') + '\n');
    const source = csv(path, { maxRecordBytes: 1024 });
    const whole = await collect(source.read());
    const reader = await source.openReader!();
    expect(reader.read(whole[1]!.position)).toEqual({
      kind: 'invalid',
      position: whole[1]!.position,
      message: 'line 3: longer than maxRecordBytes (1 KiB): a quote opened in it and never closed? Reading went on at line 4',
    });
    expect(reader.read(whole[2]!.position)).toEqual(whole[2]);
    await reader.close();
  });

  it('gives the same items whatever the chunk size, and from every position what a whole read gives from there', async () => {
    const long = `"${'word '.repeat(250)}\n${'more '.repeat(50)}"`;
    const rows = Array.from({ length: 40 }, (_, i) => `${10 + i},c${i}`);
    const lines = ['id,name', '0,a', `1,${long}`, '2,b', '3,"open', ...rows];
    const path = file(lines.join('\n') + '\n');
    const whole = await collect(csv(path, { maxRecordBytes: 1024 }).read());
    for (const chunkSize of [1, 3, 16, 64, 1000])
      expect(await collect(csv(path, { maxRecordBytes: 1024, chunkSize }).read())).toEqual(whole);
    for (const [i, item] of whole.entries()) {
      expect(await collect(csv(path, { maxRecordBytes: 1024, chunkSize: 7 }).read(item.position))).toEqual(whole.slice(i));
    }
    expect(outline(whole)).toEqual(['0', 'invalid@3', 'invalid@4', '2', 'invalid@6', ...rows.map((row) => row.split(',')[0])]);
  });

  it('resumed from a position after the broken record, reads what a whole read gives from there', async () => {
    const path = file(rows(10));
    const whole = await collect(csv(path).read());
    const from = whole[15]!.position;
    expect(await collect(csv(path).read(from))).toEqual(whole.slice(15));
  });
});

describe('maxRecordBytes', () => {
  it('must be an integer from 1 KiB to 256 MiB', () => {
    for (const bad of [0, 1023, 1.5, 2 ** 28 + 1, '1m']) {
      expect(() => jsonl('x.jsonl', { maxRecordBytes: bad as number })).toThrow(ConfigError);
      expect(() => csv('x.csv', { maxRecordBytes: bad as number })).toThrow(
        /csv\.maxRecordBytes must be an integer from 1024 to 268435456/,
      );
    }
  });
});
