import { describe, expect, it } from 'vitest';
import { collect } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { ConfigError } from '../errors.js';
import { csv } from './csv.js';
import { jsonl } from './jsonl.js';
import { firstInvalidUtf8 } from './utf8.js';

const { file } = tempFiles('batchguard-utf8-', '.txt');

// Line 2 holds a lone 0xFF inside a string, line 3 a truncated two-byte sequence (0xC3 then '"').
const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const JSONL = Buffer.concat([
  bytes('{"id":1,"name":"Zürich"}\n{"id":2,"name":"a'),
  Buffer.from([0xff]),
  bytes('b"}\n{"id":3,"name":"'),
  Buffer.from([0xc3]),
  bytes('"}\n{"id":4,"name":"ok"}\n'),
]);

describe('invalid UTF-8 in file sources', () => {
  it('jsonl: a line with invalid bytes is an invalid item naming its line and byte offset; valid multi-byte text passes', async () => {
    const items = await collect(jsonl(file(JSONL)).read());
    expect(items.map((i) => i.kind)).toEqual(['record', 'invalid', 'invalid', 'record']);
    expect(items[0]).toMatchObject({ value: { id: 1, name: 'Zürich' } });
    const offsetOfFf = JSONL.indexOf(0xff);
    expect(items[1]).toMatchObject({
      position: { seq: 1, line: 2 },
      message: expect.stringContaining(`line 2: invalid UTF-8 at byte offset ${offsetOfFf} (bytes 0xff 0x62`),
    });
    expect(items[2]).toMatchObject({
      position: { seq: 2, line: 3 },
      message: expect.stringContaining(`invalid UTF-8 at byte offset ${JSONL.lastIndexOf(0xc3)}`),
    });
    expect(items[3]).toMatchObject({ kind: 'record', position: { seq: 3, line: 4 }, value: { id: 4 } });
  });

  it('jsonl with invalidUtf8: replace processes the line with U+FFFD', async () => {
    const items = await collect(jsonl(file(JSONL), { invalidUtf8: 'replace' }).read());
    expect(items.map((i) => i.kind)).toEqual(['record', 'record', 'record', 'record']);
    expect(items[1]).toMatchObject({ value: { name: 'a\uFFFDb' } });
  });

  it('jsonl: the check holds when a line spans chunk reads', async () => {
    const items = await collect(jsonl(file(JSONL), { chunkSize: 5 } as never).read());
    expect(items.map((i) => i.kind)).toEqual(['record', 'invalid', 'invalid', 'record']);
  });

  it('csv: a record with invalid bytes is an invalid item naming its line and byte offset', async () => {
    const data = Buffer.concat([bytes('id,name\n1,Zürich\n2,a'), Buffer.from([0xfe]), bytes('b\n3,ok\n')]);
    const items = await collect(csv(file(data)).read());
    expect(items.map((i) => i.kind)).toEqual(['record', 'invalid', 'record']);
    expect(items[1]).toMatchObject({
      position: { line: 3 },
      message: expect.stringContaining(`line 3: invalid UTF-8 at byte offset ${data.indexOf(0xfe)}`),
    });
    const replaced = await collect(csv(file(data), { invalidUtf8: 'replace' }).read());
    expect(replaced[1]).toMatchObject({ kind: 'record', value: { id: '2', name: 'a\uFFFDb' } });
  });

  it('refuses an unknown invalidUtf8 value', () => {
    expect(() => jsonl('x.jsonl', { invalidUtf8: 'drop' as never })).toThrow(ConfigError);
    expect(() => csv('x.csv', { invalidUtf8: 'drop' as never })).toThrow("csv.invalidUtf8 must be 'fail' or 'replace', got \"drop\"");
  });

  it('finds the first invalid byte: overlong, surrogate, truncated, stray continuation', () => {
    expect(firstInvalidUtf8(bytes('aé€😀'))).toBe(-1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xc0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x62, 0xed, 0xa0, 0x80]))).toBe(2);
    expect(firstInvalidUtf8(Buffer.from([0xe2, 0x82]))).toBe(0);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0x80]))).toBe(1);
  });
});
