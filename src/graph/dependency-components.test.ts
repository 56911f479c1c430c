import { describe, expect, it } from 'vitest';
import { seededInts } from '../../test/helpers/random.js';
import { DependencyComponents } from './dependency-components.js';

interface Rec {
  readonly key: string | undefined;
  readonly deps: readonly string[];
}

function pack(records: readonly Rec[], perChunk: number): number[] {
  const graph = new DependencyComponents();
  for (const r of records) graph.addRecord(r.key, r.deps);
  return [...graph.pack(perChunk).chunkOf];
}

/** Every record's dependencies that are records are in its chunk; so is every record with its key. */
function expectWholeComponents(records: readonly Rec[], chunkOf: readonly number[]): void {
  const chunkOfKey = new Map<string, number>();
  records.forEach((r, i) => {
    if (r.key === undefined) return;
    const known = chunkOfKey.get(r.key);
    if (known !== undefined) expect(chunkOf[i], `record ${i} repeats key ${r.key}`).toBe(known);
    chunkOfKey.set(r.key, chunkOf[i] as number);
  });
  records.forEach((r, i) => {
    for (const dep of r.deps) {
      const at = chunkOfKey.get(dep);
      if (at !== undefined) expect(chunkOf[i], `record ${i} depends on ${dep}`).toBe(at);
    }
  });
}

describe('DependencyComponents', () => {
  it('keeps a record with the records it depends on, wherever they are in the source, and packs in source order', () => {
    // 0 ← 5 and 2 ← 7 are planted far apart; 1, 3, 4, 6 stand alone.
    const records: Rec[] = [
      { key: 'a', deps: [] },
      { key: 'b', deps: [] },
      { key: 'c', deps: [] },
      { key: 'd', deps: [] },
      { key: 'e', deps: [] },
      { key: 'f', deps: ['a'] },
      { key: 'g', deps: [] },
      { key: 'h', deps: ['c'] },
    ];
    // Chunk 0 opens with a, whose component (a, f) fills it. Chunk 1: b, then c (c, h): 3 records.
    // Chunk 2: d, e. Chunk 3: g.
    expect(pack(records, 2)).toEqual([0, 1, 1, 2, 2, 0, 3, 1]);
    expect(pack(records, 100)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(pack(records, 1)).toEqual([0, 1, 2, 3, 4, 0, 5, 2]);
  });

  it('a child read before its parent, a chain, a cycle, a missing key and a repeated key each stay whole', () => {
    const records: Rec[] = [
      { key: 'child', deps: ['parent'] },
      { key: 'x', deps: [] },
      { key: 'cycle-1', deps: ['cycle-2'] },
      { key: 'y', deps: [] },
      { key: 'orphan', deps: ['nobody'] },
      { key: 'z', deps: [] },
      { key: 'parent', deps: ['grandparent'] },
      { key: 'cycle-2', deps: ['cycle-1'] },
      { key: 'grandparent', deps: [] },
      { key: 'x', deps: [] },
      { key: 'also-orphan', deps: ['nobody'] },
      { key: undefined, deps: [] },
    ];
    const chunkOf = pack(records, 1);
    expectWholeComponents(records, chunkOf);
    // child, parent, grandparent; x twice; the two orphans of the same missing key; the cycle.
    expect(chunkOf).toEqual([0, 1, 2, 3, 4, 5, 0, 2, 0, 1, 4, 6]);
  });

  it('a component larger than a chunk is one chunk; a source that is one component is one chunk', () => {
    const chain: Rec[] = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, deps: i === 0 ? [] : [`k${i - 1}`] }));
    expect(new Set(pack(chain, 10))).toEqual(new Set([0]));
    const graph = new DependencyComponents();
    for (const r of chain) graph.addRecord(r.key, r.deps);
    expect(graph.pack(10)).toMatchObject({ chunks: 1, largestComponent: 50 });
  });

  it('random graphs: whole components, every chunk but the last reaches the size asked, chunks open in source order', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededInts(seed);
      const n = 2000;
      const records: Rec[] = Array.from({ length: n }, (_, i) => ({
        key: random(50) === 0 ? `k${random(n)}` : `k${i}`,
        deps: random(4) === 0 ? Array.from({ length: 1 + random(3) }, () => `k${random(n + 100)}`) : [],
      }));
      const perChunk = 1 + random(200);
      const chunkOf = pack(records, perChunk);
      expectWholeComponents(records, chunkOf);
      const sizes = new Map<number, number>();
      let opened = -1;
      for (const c of chunkOf) {
        if (c > opened) {
          expect(c).toBe(opened + 1);
          opened = c;
        }
        sizes.set(c, (sizes.get(c) ?? 0) + 1);
      }
      for (let c = 0; c < opened; c++) expect(sizes.get(c)).toBeGreaterThanOrEqual(perChunk);
    }
  });

  it('holds typed arrays, not strings: about the same bytes for long keys as for short ones', () => {
    const bytesFor = (keyOf: (i: number) => string): number => {
      const graph = new DependencyComponents();
      for (let i = 0; i < 100_000; i++) graph.addRecord(keyOf(i), i % 2 === 1 ? [keyOf(i - 1)] : []);
      return graph.bytes;
    };
    const short = bytesFor((i) => String(i));
    expect(bytesFor((i) => `${'a-long-prefix-'.repeat(20)}${i}`)).toBe(short);
    expect(short / 100_000).toBeLessThan(64);
  });
});
