import { describe, expect, it } from 'vitest';
import { FinishedSet } from './finished-set.js';

describe('FinishedSet', () => {
  it('answers membership for ascending queries over sorted, disjoint ranges', () => {
    const set = new FinishedSet([
      { first: 2, last: 4 },
      { first: 7, last: 7 },
      { first: 10, last: 12 },
    ]);
    const answers = Array.from({ length: 15 }, (_, seq) => [seq, set.has(seq)]);
    expect(answers).toEqual([
      [0, false],
      [1, false],
      [2, true],
      [3, true],
      [4, true],
      [5, false],
      [6, false],
      [7, true],
      [8, false],
      [9, false],
      [10, true],
      [11, true],
      [12, true],
      [13, false],
      [14, false],
    ]);
  });

  it('is empty when there are no ranges', () => {
    const set = new FinishedSet([]);
    expect([0, 1, 1_000_000].map((seq) => set.has(seq))).toEqual([false, false, false]);
  });

  it('answers the same sequence number twice in a row (ascending, not strictly)', () => {
    const set = new FinishedSet([{ first: 5, last: 6 }]);
    expect([set.has(5), set.has(5), set.has(6), set.has(6), set.has(7), set.has(7)]).toEqual([true, true, true, true, false, false]);
  });

  it('skips ranges wholly below a query that jumps ahead, including several at once', () => {
    const set = new FinishedSet([
      { first: 0, last: 0 },
      { first: 2, last: 2 },
      { first: 4, last: 4 },
      { first: 100, last: 200 },
    ]);
    expect(set.has(150)).toBe(true);
    expect(set.has(200)).toBe(true);
    expect(set.has(201)).toBe(false);
  });

  it('handles sparse queries (a resume starting past the first ranges)', () => {
    const set = new FinishedSet([
      { first: 0, last: 9 },
      { first: 20, last: 29 },
    ]);
    expect([set.has(15), set.has(19), set.has(20), set.has(29), set.has(30)]).toEqual([false, false, true, true, false]);
  });
});
