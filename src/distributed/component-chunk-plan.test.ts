import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { collect } from '../../test/helpers/sources.js';
import { tempFiles } from '../../test/helpers/temp.js';
import { fromIterable } from '../sources/iterable.js';
import { jsonl } from '../sources/jsonl.js';
import { complement } from './chunk-ledger.js';
import { readMemberKeys } from './chunk-keys.js';
import { planComponentChunks, SEEK_GAP } from './component-chunk-plan.js';
import type { Chunk } from '../ledger/worker-ledger.js';
import { readChunk } from './read-chunk.js';

const { file } = tempFiles('batchguard-components-', '.jsonl');

interface Row {
  readonly id: string;
  readonly after?: readonly string[];
}

const job = (path: string) => ({
  source: jsonl<Row>(path),
  key: (r: Row) => r.id,
  dependsOn: (r: Row) => r.after ?? [],
});

describe('planComponentChunks', () => {
  it('puts each record in the chunk of what it depends on; a chunk starts at its first record and spans to its last', async () => {
    const lines = [
      '{"id":"p1"}',
      '{"id":"a"}',
      'not json',
      '{"id":"b"}',
      '',
      '{"id":"c1","after":["p2"]}',
      '{"id":"d"}',
      '{"id":"e"}',
      '{"id":"c2","after":["p1"]}',
      '{"id":"p2"}',
      '{"id":"a"}',
    ];
    const path = file(lines.join('\n'));
    const { plan, largestComponent } = await planComponentChunks(job(path), { recordsPerChunk: 2 });
    // Items (blank lines are not items): 0 p1, 1 a, 2 invalid, 3 b, 4 c1, 5 d, 6 e, 7 c2, 8 p2, 9 a (repeated).
    expect(plan.total).toBe(10);
    expect(largestComponent).toBe(2);
    expect(plan.chunks.map((c) => c.members)).toEqual([
      [0, 7],
      [1, 9],
      [2, 3],
      [4, 8],
      [5, 6],
    ]);
    const whole = await collect(jsonl<Row>(path).read());
    for (const chunk of plan.chunks) {
      const members = chunk.members as number[];
      expect(chunk.from).toEqual(whole[members[0] as number]?.position);
      expect(chunk.count).toBe((members[members.length - 1] as number) - chunk.from.seq + 1);
      const span = await collect(readChunk(jsonl<Row>(path), chunk));
      expect(span.map((item) => item.position.seq)).toEqual(
        whole.slice(chunk.from.seq, chunk.from.seq + chunk.count).map((i) => i.position.seq),
      );
    }
  });

  it('a chunk whose records lie more than SEEK_GAP items apart is read in stretches, the items between them not at all', async () => {
    const records = 2 * SEEK_GAP + 500;
    const far = records - 3;
    const lines = Array.from({ length: records }, (_, id) =>
      JSON.stringify(id === 0 ? { id: String(id), after: [String(far)] } : id === 1 ? { id: '1', after: ['2'] } : { id: String(id) }),
    );
    const path = file(lines.join('\n'));
    const { plan } = await planComponentChunks(job(path), { recordsPerChunk: 3 });
    const whole = await collect(jsonl<Row>(path).read());
    const first = plan.chunks[0] as Chunk;
    expect(first.members).toEqual([0, 1, 2, far]);
    expect(first.segments).toEqual([
      { from: whole[0]?.position, count: 3 },
      { from: whole[far]?.position, count: 1 },
    ]);
    expect((await collect(readChunk(jsonl<Row>(path), first))).map((item) => item.position.seq)).toEqual([0, 1, 2, far]);
    // Records close together are read through: one stretch, no segments.
    expect(plan.chunks[1]).toMatchObject({ members: [3, 4, 5], count: 3 });
    expect(plan.chunks[1]?.segments).toBeUndefined();
  });

  it('a source that is one component is one chunk', async () => {
    const lines = Array.from({ length: 30 }, (_, i) => JSON.stringify({ id: `k${i}`, after: i === 29 ? [] : [`k${i + 1}`] }));
    const { plan, largestComponent } = await planComponentChunks(job(file(lines.join('\n'))), { recordsPerChunk: 4 });
    expect(plan.chunks).toHaveLength(1);
    expect(plan.chunks[0]).toMatchObject({ from: { seq: 0, line: 1, offset: 0 }, count: 30 });
    expect(largestComponent).toBe(30);
  });

  it('a key or dependsOn that throws leaves the record alone in its component (the engine fails it)', async () => {
    const path = file(['{"id":"a"}', '{"id":"bad"}', '{"id":"c","after":["a"]}'].join('\n'));
    const throwing = {
      ...job(path),
      dependsOn: (r: Row) => {
        if (r.id === 'c') throw new Error('boom');
        return [];
      },
    };
    const { plan } = await planComponentChunks(throwing, { recordsPerChunk: 1 });
    expect(plan.chunks.map((c) => c.members)).toEqual([[0], [1], [2]]);
  });

  it('refuses a source that cannot seek', async () => {
    const iterable = { source: fromIterable([{ id: 'a' }]), key: (r: Row) => r.id, dependsOn: () => [] };
    await expect(planComponentChunks(iterable)).rejects.toThrow(ConfigError);
  });
});

describe('readMemberKeys', () => {
  it("reads the keys of the chunk's members only, the first of a repeated key holding it", async () => {
    const path = file(['{"id":"x"}', '{"id":"y"}', '{"id":"z"}', 'oops', '{"id":"x"}', '{"id":"w"}'].join('\n'));
    const chunk = { index: 0, from: { seq: 0, line: 1, offset: 0 }, count: 5, members: [0, 2, 3, 4] };
    const keys = await readMemberKeys(job(path), chunk);
    expect(keys.find('x')).toEqual({ seq: 0, line: 1 });
    expect(keys.find('z')).toEqual({ seq: 2, line: 3 });
    expect(keys.find('y')).toBeUndefined();
    expect(keys.find('w')).toBeUndefined();
    expect(keys.size).toBe(2);
  });
});

describe('complement', () => {
  it('is the ranges of a span that hold none of the given sequence numbers', () => {
    expect(complement([3, 4, 7], 3, 9)).toEqual([
      { first: 5, last: 6 },
      { first: 8, last: 9 },
    ]);
    expect(complement([], 3, 9)).toEqual([{ first: 3, last: 9 }]);
    expect(complement([3, 9], 3, 9)).toEqual([{ first: 4, last: 8 }]);
  });
});
