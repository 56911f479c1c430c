import { describe, expect, it } from 'vitest';
import { tempFiles } from '../../test/helpers/temp.js';
import { jsonl } from '../sources/jsonl.js';
import { chunkSource, WHOLE_WAITERS_UP_TO } from './chunk-source.js';

const { file } = tempFiles('batchguard-chunk-source-', '.jsonl');

describe('chunkSource', () => {
  it('reads records again by position (waiting records stored as positions) only for a chunk of components too big to hold its waiters whole', () => {
    const source = jsonl(file('{"id":1}\n'));
    const from = { seq: 0, line: 1, offset: 0 };
    const small = { index: 0, from, count: 1, members: [0] };
    expect(chunkSource(source, small).openReader).toBeUndefined();
    const members = Array.from({ length: WHOLE_WAITERS_UP_TO + 1 }, (_, i) => i);
    expect(chunkSource(source, { index: 0, from, count: members.length, members }).openReader).toBeTypeOf('function');
    // A chunk without dependsOn never waits on anything.
    expect(chunkSource(source, { index: 0, from, count: 1 }).openReader).toBeUndefined();
  });
});
