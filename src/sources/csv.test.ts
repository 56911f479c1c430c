import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { generatedCsv as generated } from '../../test/helpers/csv-files.js';
import { collect, positions } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { csv, type CsvOptions } from './csv.js';
import type { SourcePosition } from './source.js';

const { file } = tempFiles('batchguard-csv-', '.csv');

describe('csv positions', () => {
  it('gives each record the line and byte offset where it starts, past blank lines and multi-line fields', async () => {
    const path = file('a,b\n1,2\n\n"x\ny",3\n4,5');
    expect(await collect(csv(path).read())).toEqual([
      { kind: 'record', position: { seq: 0, line: 2, offset: 4 }, value: { a: '1', b: '2' } },
      { kind: 'record', position: { seq: 1, line: 4, offset: 9 }, value: { a: 'x\ny', b: '3' } },
      { kind: 'record', position: { seq: 2, line: 6, offset: 17 }, value: { a: '4', b: '5' } },
    ]);
  });

  it('counts lines and bytes right in CRLF files (csv-parse itself counts a quoted CRLF as two lines)', async () => {
    const path = file('a,b\r\n1,2\r\n\r\n"x\r\ny",3\r\n4,5\r\n');
    expect(positions(await collect(csv(path).read()))).toEqual([
      { seq: 0, line: 2, offset: 5 },
      { seq: 1, line: 4, offset: 12 },
      { seq: 2, line: 6, offset: 22 },
    ]);
  });

  it('gives byte offsets, not character offsets, with multi-byte text and a BOM', async () => {
    const content = Buffer.from('\ufeffcity,name\nZürich,東京\n"Köln\nam Rhein",ケルン\nend,x\n');
    const items = await collect(csv(file(content)).read());
    expect(positions(items)).toEqual([
      { seq: 0, line: 2, offset: 13 },
      { seq: 1, line: 3, offset: 28 },
      { seq: 2, line: 5, offset: 55 },
    ]);
    expect(content.subarray(28, 34).toString()).toBe('"Köln');
    expect(items[0]).toMatchObject({ value: { city: 'Zürich', name: '東京' } });
  });

  it('handles old Mac files (CR line breaks) and comment lines', async () => {
    expect(positions(await collect(csv(file('a,b\r1,2\r"x\ry",3\r4,5\r')).read()))).toEqual([
      { seq: 0, line: 2, offset: 4 },
      { seq: 1, line: 3, offset: 8 },
      { seq: 2, line: 5, offset: 16 },
    ]);
    const commented = file('# about\na,b\n# note\n1,2\n\n  \n3,4\n');
    expect(await collect(csv(commented, { comment: '#', trim: true }).read())).toEqual([
      { kind: 'record', position: { seq: 0, line: 4, offset: 19 }, value: { a: '1', b: '2' } },
      { kind: 'record', position: { seq: 1, line: 7, offset: 27 }, value: { a: '3', b: '4' } },
    ]);
  });

  it('matches the true positions of generated files whatever the chunk size', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const { content, items } = generated(seed);
      const path = file(content);
      for (const chunkSize of [1, 2, 5, 64, undefined]) {
        expect(await collect(csv(path, { chunkSize }).read()), `seed ${seed}, chunk ${chunkSize}`).toEqual(items);
      }
    }
  });

  it('reads from any position exactly what a full read gives from there', async () => {
    for (const seed of [2, 3]) {
      const { content, items } = generated(seed);
      const path = file(content);
      for (let i = 0; i < items.length; i++) {
        const from = items[i]?.position as SourcePosition;
        expect(await collect(csv(path, { chunkSize: 7 }).read(from)), `seed ${seed} from ${i}`).toEqual(items.slice(i));
      }
    }
  });

  it('without an offset, skips the first from.seq items; without a line, counts the lines', async () => {
    const path = file('a,b\n1,2\n3,4\n\n5,6\n');
    const rest = await collect(csv(path).read({ seq: 1 }));
    expect(positions(rest)).toEqual([
      { seq: 1, line: 3, offset: 8 },
      { seq: 2, line: 5, offset: 13 },
    ]);
    expect(positions(await collect(csv(path).read({ seq: 2, offset: 13 })))).toEqual([{ seq: 2, line: 5, offset: 13 }]);
  });
});

describe('csv options', () => {
  it('with columns: false yields arrays, checks the first record’s field count even after a seek', async () => {
    const path = file('1,2\n3,4,5\n6,7\n');
    const items = await collect(csv<string[]>(path, { columns: false }).read());
    expect(items).toEqual([
      { kind: 'record', position: { seq: 0, line: 1, offset: 0 }, value: ['1', '2'] },
      {
        kind: 'invalid',
        position: { seq: 1, line: 2, offset: 4 },
        message: 'line 2: Invalid Record Length: expected 2 fields as in the first record, got 3',
        raw: '3,4,5',
      },
      { kind: 'record', position: { seq: 2, line: 3, offset: 10 }, value: ['6', '7'] },
    ]);
    expect(await collect(csv(path, { columns: false }).read(items[1]?.position))).toEqual(items.slice(1));
  });

  it('with column names, the first line is data', async () => {
    const items = await collect(csv(file('\ufeff1,2\n3,4\n'), { columns: ['x', 'y'] }).read());
    expect(items).toEqual([
      { kind: 'record', position: { seq: 0, line: 1, offset: 3 }, value: { x: '1', y: '2' } },
      { kind: 'record', position: { seq: 1, line: 2, offset: 7 }, value: { x: '3', y: '4' } },
    ]);
  });

  it('supports another delimiter and quote, casting numbers, and keeping empty lines', async () => {
    const path = file("id;name\n1;'a;b'\n\n2;'it''s'\n");
    const items = await collect(csv(path, { delimiter: ';', quote: "'", cast: true }).read());
    expect(items.map((item) => item.kind === 'record' && item.value)).toEqual([
      { id: 1, name: 'a;b' },
      { id: 2, name: "it's" },
    ]);
    const kept = await collect(csv(path, { delimiter: ';', quote: "'", skipEmptyLines: false }).read());
    expect(kept.map((item) => [item.kind, item.position.line])).toEqual([
      ['record', 2],
      ['invalid', 3],
      ['record', 4],
    ]);
  });

  it('keeps a BOM in the first column name with bom: false', async () => {
    const [item] = await collect(csv(file('\ufeffid\n1\n'), { bom: false }).read());
    expect(item).toMatchObject({ value: { '\ufeffid': '1' }, position: { offset: 6 } });
  });

  it('reads a header longer than the first read, even one cut inside a quote or between \\r and \\n', async () => {
    const long = `"${'h'.repeat(3000)}\n${'h'.repeat(3000)}",b`;
    const [item] = await collect(csv(file(`${long}\n1,2\n`), { chunkSize: 1 }).read());
    expect(item).toMatchObject({ position: { line: 3, offset: long.length + 1 }, value: { b: '2' } });
    const exact = `${'h'.repeat(4095)}\r\n1\r\n`; // the first read of 4096 bytes ends between \r and \n
    expect(await collect(csv(file(exact), { chunkSize: 1 }).read())).toEqual([
      { kind: 'record', position: { seq: 0, line: 2, offset: 4097 }, value: { ['h'.repeat(4095)]: '1' } },
    ]);
  });

  it('yields nothing for an empty file or a header alone', async () => {
    expect(await collect(csv(file('')).read())).toEqual([]);
    expect(await collect(csv(file('a,b\n')).read())).toEqual([]);
    expect(await collect(csv(file('\n\n')).read())).toEqual([]);
  });

  it('refuses a header that names a column twice: one field would overwrite the other in every record', async () => {
    const path = file('id,name,city,name\n1,a,x,b\n');
    await expect(collect(csv(path).read())).rejects.toThrow(
      `cannot read csv source ${path}: its header (line 1) names the column "name" twice (fields 2 and 4), so one would overwrite the other in every record; rename one, or name the columns with csv(path, { columns: [...] })`,
    );
    // Any record read again (a waiting record's reader) is refused the same way.
    await expect(csv(path).openReader!()).rejects.toThrow('names the column "name" twice');
  });

  it('rejects unknown options and bad values, naming them', () => {
    expect(() => csv('x', { skip_empty_lines: true } as CsvOptions)).toThrow(ConfigError);
    expect(() => csv('x', { skip_empty_lines: true } as CsvOptions)).toThrow(/^csv\.skip_empty_lines is not a known option/);
    expect(() => csv('x', { quote: '""' })).toThrow(`csv.quote must be one character, or '' for no quoting, got "\\"\\""`);
    expect(() => csv('x', { columns: [] })).toThrow('csv.columns must be true, false or a non-empty array of column names, got []');
    expect(() => csv('x', { columns: ['id', 'name', 'id'] })).toThrow('csv.columns names "id" twice (columns 1 and 3)');
    expect(() => csv('x', { cast: 'yes' as unknown as boolean })).toThrow('csv.cast must be a boolean, got "yes"');
  });
});
