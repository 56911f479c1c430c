import { describe, expect, it, vi } from 'vitest';
import { FirstRecordParser } from './csv-first-record.js';

// A csv-parse 6.x whose Parser keeps its machine elsewhere (no `api`).
vi.mock('csv-parse', () => ({ Parser: class {} }));

describe('FirstRecordParser on a csv-parse without the machine it knows', () => {
  it("parses with csv-parse's single-use parse instead of failing", () => {
    const parser = new FirstRecordParser({ columns: false });
    expect(parser.parse(Buffer.from('1,"a\nb"\n2,c\n'), true)).toEqual({ kind: 'record', record: ['1', 'a\nb'], bytes: 8 });
    expect(parser.parse(Buffer.from('2,"c'), false)).toEqual({ kind: 'more' });
    expect(parser.parse(Buffer.from('3,d\n'), true)).toEqual({ kind: 'record', record: ['3', 'd'], bytes: 4 });
  });
});
