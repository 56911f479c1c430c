import { describe, expect, it, vi } from 'vitest';
import { FirstRecordParser } from './csv-first-record.js';

// A csv-parse 6.x whose Parser keeps its machine elsewhere (no `api`), or one of another shape.
const machines = vi.hoisted(() => ({ api: undefined as unknown }));
vi.mock('csv-parse', () => ({
  Parser: class {
    api = machines.api;
  },
}));

describe('FirstRecordParser on a csv-parse without the machine it knows', () => {
  const partial = {
    parse: () => undefined,
    state: { record: [], field: { reset: () => undefined } },
    info: { bytes: 0 },
    options: { record_delimiter: [] },
  };
  const wrong = {
    ...partial,
    state: { record: [], field: { reset: () => undefined }, rawBuffer: { reset: () => undefined } },
  };
  it.each([
    ['no machine', undefined],
    ['a machine without rawBuffer', partial],
    ['a machine of the right shape whose answers differ', wrong],
  ])("parses with csv-parse's single-use parse instead of failing: %s", (_name, api) => {
    machines.api = api;
    const parser = new FirstRecordParser({ columns: false });
    expect(parser.reusesParser).toBe(false);
    expect(parser.parse(Buffer.from('1,"a\nb"\n2,c\n'), true)).toEqual({ kind: 'record', record: ['1', 'a\nb'], bytes: 8 });
    expect(parser.parse(Buffer.from('2,"c'), false)).toEqual({ kind: 'more' });
    expect(parser.parse(Buffer.from('3,d\n'), true)).toEqual({ kind: 'record', record: ['3', 'd'], bytes: 4 });
  });
});
