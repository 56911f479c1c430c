/** Malformed records, errors and resources of the csv source (see csv-record-parser.ts). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceError } from '../errors.js';
import { collect, openFds, positions } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { csv } from './csv.js';

const { dir, file } = tempFiles('batchguard-csv-invalid-', '.csv');

describe('csv malformed records', () => {
  it('reports a wrong number of fields with the line, and reads on', async () => {
    const path = file('a,b\n1,2\n1,2,3\n4\n5,6\n');
    expect(await collect(csv(path).read())).toEqual([
      { kind: 'record', position: { seq: 0, line: 2, offset: 4 }, value: { a: '1', b: '2' } },
      {
        kind: 'invalid',
        position: { seq: 1, line: 3, offset: 8 },
        message: 'line 3: Invalid Record Length: columns length is 2, got 3 (CSV_RECORD_INCONSISTENT_COLUMNS)',
        raw: '1,2,3',
      },
      {
        kind: 'invalid',
        position: { seq: 2, line: 4, offset: 14 },
        message: 'line 4: Invalid Record Length: columns length is 2, got 1 (CSV_RECORD_INCONSISTENT_COLUMNS)',
        raw: '4',
      },
      { kind: 'record', position: { seq: 3, line: 5, offset: 16 }, value: { a: '5', b: '6' } },
    ]);
  });

  it('accepts a wrong number of fields with relaxColumnCount', async () => {
    const items = await collect(csv(file('a,b\n1,2,3\n4\n'), { relaxColumnCount: true }).read());
    expect(items.map((item) => item.kind === 'record' && item.value)).toEqual([{ a: '1', b: '2' }, { a: '4' }]);
  });

  it('reports a stray quote in a field and recovers at the next record, positions intact', async () => {
    const path = file('a,b\n1,2\n5" screen,6\n"multi\nline",7\n8,9\n');
    const items = await collect(csv(path).read());
    expect(items[1]).toEqual({
      kind: 'invalid',
      position: { seq: 1, line: 3, offset: 8 },
      message: 'line 3: Invalid Opening Quote: a quote is found on field "a", value is "5" (INVALID_OPENING_QUOTE)',
      raw: '5" screen,6',
    });
    expect(positions(items.slice(2))).toEqual([
      { seq: 2, line: 4, offset: 20 },
      { seq: 3, line: 6, offset: 35 },
    ]);
    expect(items[2]).toMatchObject({ kind: 'record', value: { a: 'multi\nline', b: '7' } });
    const relaxed = await collect(csv(path, { relaxQuotes: true }).read());
    expect(relaxed[1]).toMatchObject({ kind: 'record', value: { a: '5" screen', b: '6' } });
  });

  it('reports one invalid record per broken row, even when it also has the wrong field count', async () => {
    const items = await collect(csv(file('a,b\nx"y,1,2\nz"w,3\n4,5\n')).read());
    expect(items.map((item) => [item.kind, item.position.line])).toEqual([
      ['invalid', 2],
      ['invalid', 3],
      ['record', 4],
    ]);
  });

  it('reports a quote never closed, and reads on at the line after the one where it opened', async () => {
    const items = await collect(csv(file('a,b\n1,2\n"x,3\n4,5\n')).read());
    expect(items[1]).toEqual({
      kind: 'invalid',
      position: { seq: 1, line: 3, offset: 8 },
      message: 'line 3: Quote Not Closed: the parsing is finished with an opening quote (CSV_QUOTE_NOT_CLOSED)',
      raw: '"x,3',
    });
    expect(items[2]).toEqual({ kind: 'record', position: { seq: 2, line: 4, offset: 13 }, value: { a: '4', b: '5' } });
    expect(items).toHaveLength(3);
  });
});

describe('csv errors and resources', () => {
  it('reports a missing file when reading starts, and in fingerprint()', async () => {
    const path = join(dir, 'missing.csv');
    const message = `cannot read csv source ${path}: no such file (ENOENT)`;
    await expect(collect(csv(path).read())).rejects.toBeInstanceOf(SourceError);
    await expect(collect(csv(path).read())).rejects.toMatchObject({ code: 'SOURCE_UNREADABLE', message });
    await expect(csv(path).fingerprint()).rejects.toMatchObject({ code: 'SOURCE_UNREADABLE', message });
  });

  it('reports a malformed header as unreadable', async () => {
    const path = file('"a,b\n1,2\n');
    await expect(collect(csv(path).read())).rejects.toMatchObject({
      code: 'SOURCE_UNREADABLE',
      message: expect.stringContaining(`cannot read csv source ${path}: its first record is malformed: Quote Not Closed`) as string,
    });
  });

  it('reports a header with a bad quote at once, without reading the rest of the file', async () => {
    const path = file(`"a"x,b\n${'1,2\n'.repeat(10_000)}`);
    await expect(collect(csv(path).read())).rejects.toThrow(
      `cannot read csv source ${path}: its first record is malformed: Invalid Closing Quote: got "x" at line 1`,
    );
  });

  it('fingerprints the file', async () => {
    const path = file('a\n1\n');
    expect(await csv(path).fingerprint()).toMatchObject({ description: `csv:${path}`, size: 4 });
    expect(csv(path).seekable).toBe(true);
  });

  const big = file(`id,name\n${Array.from({ length: 20_000 }, (_, i) => `${i},name ${i}`).join('\n')}\n`);

  it.skipIf(!existsSync('/proc/self/fd'))('closes the file when the consumer stops early, or aborts', async () => {
    const before = openFds();
    for await (const item of csv(big, { chunkSize: 1024 }).read()) {
      if (item.position.seq === 5) break;
    }
    expect(openFds()).toBe(before);

    const controller = new AbortController();
    const reading = (async () => {
      for await (const item of csv(big).read(undefined, controller.signal)) {
        if (item.position.seq === 3) controller.abort(new Error('stop now'));
      }
    })();
    await expect(reading).rejects.toThrow('stop now');
    expect(openFds()).toBe(before);
  });
});
