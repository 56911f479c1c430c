import { rmSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SourceError } from '../errors.js';
import { generatedCsv } from '../../test/helpers/csv-files.js';
import { collect } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { csv, type CsvOptions } from './csv.js';
import type { RecordReader, SourceItem, SourcePosition } from './source.js';

const { file } = tempFiles('batchguard-csv-reader-', '.csv');

async function openReader<T>(path: string, options: CsvOptions = {}): Promise<RecordReader<T>> {
  const source = csv<T>(path, options);
  return (source.openReader as () => Promise<RecordReader<T>>)();
}

/** Every item of the file as the source streams it, and each read again at its position, backwards (each read seeks). */
async function readBoth(
  path: string,
  options: CsvOptions = {},
): Promise<{ streamed: SourceItem<unknown>[]; again: SourceItem<unknown>[] }> {
  const streamed = await collect(csv(path, options).read());
  const reader = await openReader(path, options);
  try {
    const again = [...streamed].reverse().map((item) => reader.read(item.position));
    return { streamed, again: again.reverse() };
  } finally {
    await reader.close();
  }
}

/** What the engine compares: the kind, and the value of a record or the message of an invalid item. */
const seen = (items: SourceItem<unknown>[]): unknown[] =>
  items.map((item) => (item.kind === 'record' ? item : { kind: item.kind, position: item.position, message: item.message }));

describe('csv record reader', () => {
  it('reads each record of generated files again at its position, as the source streamed it', async () => {
    // Quoted fields with line breaks and doubled quotes, multi-byte text, blank lines, rows with a
    // wrong field count, LF or CRLF, with or without BOM and final line break.
    for (let seed = 1; seed <= 8; seed++) {
      const { content, items } = generatedCsv(seed);
      const { streamed, again } = await readBoth(file(content));
      expect(streamed, `seed ${seed}`).toEqual(items);
      expect(seen(again), `seed ${seed}`).toEqual(seen(streamed));
    }
  });

  it('reads records longer than the first read, one cut between \\r and \\n, and the last line without a line break', async () => {
    const long = `"${'x'.repeat(5000)}\r\n""${'y'.repeat(5000)}"""`;
    const exact = 'z'.repeat(4095 - 2); // with "2," the record's "\r" is the 4096th byte, its "\n" the 4097th
    const { streamed, again } = await readBoth(file(`\ufeffid,text\r\n1,${long}\r\n2,${exact}\r\n3,${'w'.repeat(9000)}\r\n4,end`));
    expect(streamed.map((item) => item.kind === 'record' && item.value)).toEqual([
      { id: '1', text: `${'x'.repeat(5000)}\r\n"${'y'.repeat(5000)}"` },
      { id: '2', text: exact },
      { id: '3', text: 'w'.repeat(9000) },
      { id: '4', text: 'end' },
    ]);
    expect(again).toEqual(streamed);
  });

  it('parses with the options of the source: delimiter, quote, cast, trim, comments, column names, arrays', async () => {
    const cases: [string, CsvOptions][] = [
      ["id;name\n1;'a;b'\n\n2;'it''s'\n", { delimiter: ';', quote: "'", cast: true }],
      ['# about\na,b\n# note\n1,2\n\n  \n 3 , 4 \n', { comment: '#', trim: true }],
      ['\ufeff1,2\r3,4\r', { columns: ['x', 'y'] }],
      ['1,2\n3,4,5\n6,7', { columns: false }],
      ['a,b\n1\n2,3,4\n', { relaxColumnCount: true }],
      ['a,b\n5" screen,x\n6,y\n', { relaxQuotes: true }],
    ];
    for (const [content, options] of cases) {
      const { streamed, again } = await readBoth(file(content), options);
      expect(streamed.length, JSON.stringify(content)).toBeGreaterThan(1);
      expect(seen(again), JSON.stringify(content)).toEqual(seen(streamed));
    }
  });

  it('reports invalid UTF-8 as the stream does, and reads it with U+FFFD when told to', async () => {
    const content = Buffer.concat([Buffer.from('a,b\n1,ok\n2,'), Buffer.from([0xff, 0x41]), Buffer.from('\n')]);
    const path = file(content);
    const { streamed, again } = await readBoth(path);
    expect(streamed[1]).toMatchObject({
      kind: 'invalid',
      message: expect.stringMatching(/^line 3: invalid UTF-8 at byte offset 11/) as unknown,
    });
    expect(seen(again)).toEqual(seen(streamed));
    const replaced = await readBoth(path, { invalidUtf8: 'replace' });
    expect(replaced.again).toEqual(replaced.streamed);
  });

  it('reads what is at the offset now when the file changed: another record, or an invalid item naming the line', async () => {
    const path = file('id,name\n1,one\n2,two\n3,three\n');
    const items = await collect(csv(path).read());
    const reader = await openReader(path);
    try {
      // Another record at the same offset: the engine notices its other key (stored-record.ts).
      writeFileSync(path, 'id,name\n7,one\n2,two\n3,three\n');
      expect(reader.read(items[0]?.position as SourcePosition)).toMatchObject({ kind: 'record', value: { id: '7', name: 'one' } });
      // A row cut short, a quote never closed, and a file that ends before the offset.
      writeFileSync(path, 'id,name\n1,one\n2\n\n\n\n\n3,"three\n');
      expect(reader.read(items[1]?.position as SourcePosition)).toMatchObject({
        kind: 'invalid',
        message: 'line 3: Invalid Record Length: columns length is 2, got 1 (CSV_RECORD_INCONSISTENT_COLUMNS)',
      });
      expect(reader.read(items[2]?.position as SourcePosition)).toMatchObject({
        kind: 'invalid',
        message: expect.stringMatching(/^line 4: Quote Not Closed: .* \(CSV_QUOTE_NOT_CLOSED\)$/) as unknown,
      });
      writeFileSync(path, 'id,name\n');
      expect(reader.read(items[2]?.position as SourcePosition)).toEqual({
        kind: 'invalid',
        position: items[2]?.position,
        message: 'line 4: no record there (the file ends before one)',
      });
    } finally {
      await reader.close();
    }
  });

  it('keeps nothing of one read in the next: one csv-parse parser serves them all', async () => {
    // Arrays (columns: false): a record handed out must not be the array the next read fills.
    // Broken records in between leave csv-parse mid-quote, after an error, or with a field count of its own.
    const content = '1,a\n2,x"y\n4,d,e\n5,"f\r\ng"\n3,"c\n';
    const path = file(content);
    const reader = await openReader<string[]>(path, { columns: false });
    try {
      const read = (start: string): unknown => {
        const item = reader.read({ seq: 0, line: 1, offset: content.indexOf(start) });
        return item.kind === 'record' ? item.value : item.message;
      };
      const first = read('1,');
      expect(first).toEqual(['1', 'a']);
      const broken = ['2,', '3,', '4,'].map(read);
      expect(broken).toEqual([
        expect.stringMatching(/^line 1: Invalid Opening Quote: .*\(INVALID_OPENING_QUOTE\)$/),
        expect.stringMatching(/^line 1: Quote Not Closed: .*\(CSV_QUOTE_NOT_CLOSED\)$/),
        'line 1: Invalid Record Length: expected 2 fields as in the first record, got 3',
      ]);
      expect([read('5,'), read('1,'), ...['4,', '3,', '2,'].map(read), read('5,')]).toEqual([
        ['5', 'f\r\ng'],
        ['1', 'a'],
        ...broken.reverse(),
        ['5', 'f\r\ng'],
      ]);
      expect(first).toEqual(['1', 'a']);
    } finally {
      await reader.close();
    }
  });

  it('names the file when it cannot be read', async () => {
    const path = file('a\n1\n');
    const reader = await openReader(path);
    rmSync(path);
    const position: SourcePosition = { seq: 0, line: 2, offset: 2 };
    expect(() => reader.read(position)).toThrow(SourceError);
    expect(() => reader.read(position)).toThrow(/cannot read csv source .*\.csv: no such file \(ENOENT\)/);
    await reader.close();
  });
});
