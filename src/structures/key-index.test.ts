import { describe, it, expect } from 'vitest';
import { LedgerError } from '../errors.js';
import { KEY_INDEX_ENTRY_BYTES, KEY_INDEX_MAX_EXPECTED_KEYS, KeyIndex } from './key-index.js';

/** Deterministic random source (mulberry32), so a failing case can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function uuid(random: () => number): string {
  const hex = (digits: number): string =>
    Math.floor(random() * 16 ** digits)
      .toString(16)
      .padStart(digits, '0');
  return `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(6)}${hex(6)}`;
}

/** Adds key i as `${prefix}${i}` with seq i and line i + 1, expecting no duplicate. */
function fill(index: KeyIndex, count: number, prefix = 'k', firstSeq = 0): void {
  let duplicates = 0;
  for (let i = firstSeq; i < firstSeq + count; i++) if (index.add(`${prefix}${i}`, i, i + 1) !== undefined) duplicates++;
  expect(duplicates).toBe(0);
}

describe('KeyIndex.add', () => {
  it('returns the earlier seq and line for a second occurrence, and does not insert it', () => {
    const index = new KeyIndex();
    expect(index.add('alice', 0, 2)).toBeUndefined();
    expect(index.add('bob', 1, 3)).toBeUndefined();
    expect(index.add('alice', 7, 9)).toEqual({ seq: 0, line: 2 });
    // The first record stays the owner: a third occurrence still names it.
    expect(index.add('alice', 8, 10)).toEqual({ seq: 0, line: 2 });
    expect(index.size).toBe(2);
  });

  it('keeps line 0 for sources without lines', () => {
    const index = new KeyIndex();
    index.add('x', 5, 0);
    expect(index.add('x', 6, 0)).toEqual({ seq: 5, line: 0 });
  });

  it('does not report a record re-added with its own seq (re-read after a resume)', () => {
    const index = new KeyIndex();
    index.add('alice', 3, 4);
    expect(index.add('alice', 3, 4)).toBeUndefined();
    expect(index.size).toBe(1);
    expect(index.drain().byteLength).toBe(KEY_INDEX_ENTRY_BYTES);
  });

  it('tells apart keys that differ only in order, case, length or a trailing code unit', () => {
    const index = new KeyIndex();
    const keys = ['', 'a', 'A', 'ab', 'ba', 'abc', 'abc\u0000', '1', '01', '10', '12345', '123456', ' 12345'];
    keys.forEach((key, seq) => expect(index.add(key, seq, seq + 1)).toBeUndefined());
    expect(index.size).toBe(keys.length);
    keys.forEach((key, seq) => expect(index.add(key, 100 + seq, 0)).toEqual({ seq, line: seq + 1 }));
  });

  it('handles unicode keys: accents, CJK, emoji, astral characters and lone surrogates', () => {
    const index = new KeyIndex();
    const keys = [
      'café', // precomposed é
      'cafe\u0301', // e + combining acute: a different string, so a different key
      '東京',
      '京東',
      '😀',
      '😁',
      '👩‍👩‍👧',
      '\ud83d', // lone high surrogate
      '\ude00', // lone low surrogate
      '\ud83d\ude00x',
      'Ā', // U+0100: code unit 0x0100, must not collide with "\u0000\u0001"-like inputs
      '\u0000\u0001',
      '\u0001\u0000',
    ];
    keys.forEach((key, seq) => expect(index.add(key, seq, seq + 1)).toBeUndefined());
    keys.forEach((key, seq) => expect(index.add(key, 50 + seq, 0)).toEqual({ seq, line: seq + 1 }));
    expect(index.size).toBe(keys.length);
  });

  it('keeps every entry across many doublings', () => {
    const index = new KeyIndex();
    const before = index.bytes;
    fill(index, 50_000);
    expect(index.size).toBe(50_000);
    expect(index.bytes).toBeGreaterThan(before);
    let wrongOwners = 0;
    let reportedRereads = 0;
    for (let i = 0; i < 50_000; i++) {
      const owner = index.add(`k${i}`, i + 1_000_000, 0);
      if (owner?.seq !== i || owner.line !== i + 1) wrongOwners++;
      if (index.add(`k${i}`, i, i + 1) !== undefined) reportedRereads++;
    }
    expect([wrongOwners, reportedRereads]).toEqual([0, 0]);
    expect(index.size).toBe(50_000);
  });

  it('finds no false duplicates among 200,000 random distinct keys', () => {
    const random = seededRandom(20_240_501);
    const keys = new Set<string>();
    while (keys.size < 100_000) keys.add(uuid(random));
    while (keys.size < 200_000) keys.add(String(Math.floor(random() * 1e9)));
    const index = new KeyIndex();
    let seq = 0;
    let duplicates = 0;
    for (const key of keys) if (index.add(key, seq++, seq) !== undefined) duplicates++;
    expect(duplicates).toBe(0);
    expect(index.size).toBe(200_000);
  });

  it('rejects a seq or line that a uint32 cannot hold', () => {
    const index = new KeyIndex();
    expect(() => index.add('a', -1, 0)).toThrow(new RangeError('KeyIndex seq must be an integer from 0 to 2^32-1, got -1'));
    expect(() => index.add('a', 2 ** 32, 0)).toThrow(RangeError);
    expect(() => index.add('a', 1.5, 0)).toThrow(RangeError);
    expect(() => index.add('a', 0, Number.NaN)).toThrow(new RangeError('KeyIndex line must be an integer from 0 to 2^32-1, got NaN'));
    expect(index.add('a', 2 ** 32 - 1, 2 ** 32 - 1)).toBeUndefined();
    expect(index.add('a', 0, 0)).toEqual({ seq: 2 ** 32 - 1, line: 2 ** 32 - 1 });
    expect(index.size).toBe(1);
  });
});

describe('KeyIndex options', () => {
  it('starts at 1024 slots, sizes the table for expectedKeys, and rejects nonsense', () => {
    const log = 1024 * 4;
    expect(new KeyIndex().bytes).toBe(1024 * 16 + log);
    expect(new KeyIndex({ expectedKeys: 716 }).bytes).toBe(1024 * 16 + log); // 1024 × 0.7 = 716.8
    expect(new KeyIndex({ expectedKeys: 717 }).bytes).toBe(2048 * 16 + log);
    expect(new KeyIndex({ expectedKeys: 10_000_000 }).bytes).toBe(2 ** 24 * 16 + log);
    expect(KEY_INDEX_MAX_EXPECTED_KEYS).toBe(187_904_819);
    expect(() => new KeyIndex({ expectedKeys: -1 })).toThrow(
      new RangeError('KeyIndex expectedKeys must be an integer from 0 to 187904819, got -1'),
    );
    expect(() => new KeyIndex({ expectedKeys: 2.5 })).toThrow(RangeError);
    expect(() => new KeyIndex({ expectedKeys: KEY_INDEX_MAX_EXPECTED_KEYS + 1 })).toThrow(RangeError);
  });

  it('does not grow before expectedKeys', () => {
    const index = new KeyIndex({ expectedKeys: 5_000 }); // 8192 × 0.7 = 5734
    expect(index.bytes).toBe(8192 * 16 + 1024 * 4);
    fill(index, 5_000);
    // The table is unchanged; only the drain log grew, to hold 5,000 undrained slot numbers.
    expect(index.bytes).toBe(8192 * 16 + 8192 * 4);
  });
});

describe('KeyIndex.drain and load', () => {
  it('drains nothing from an empty index, and nothing twice', () => {
    const index = new KeyIndex();
    expect(index.drain()).toEqual(new Uint8Array(0));
    index.add('a', 0, 1);
    expect(index.drain().byteLength).toBe(KEY_INDEX_ENTRY_BYTES);
    expect(index.drain().byteLength).toBe(0);
  });

  it('writes hash hi, hash lo, seq, line as little-endian uint32, in insertion order', () => {
    const index = new KeyIndex();
    index.add('first', 7, 8);
    index.add('second', 0x01020304, 0xa0b0c0d0);
    const chunk = index.drain();
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    expect(chunk.byteLength).toBe(2 * KEY_INDEX_ENTRY_BYTES);
    expect([view.getUint32(8, true), view.getUint32(12, true)]).toEqual([7, 8]);
    expect([view.getUint32(24, true), view.getUint32(28, true)]).toEqual([0x01020304, 0xa0b0c0d0]);
    expect([...chunk.subarray(24, 28)]).toEqual([4, 3, 2, 1]);
    // Different keys, different hashes.
    expect(chunk.subarray(0, 8)).not.toEqual(chunk.subarray(16, 24));
  });

  it('returns only the entries added since the previous drain, even across growth', () => {
    const index = new KeyIndex();
    fill(index, 10);
    const first = index.drain();
    fill(index, 5_000, 'k', 10); // many doublings between two drains move every entry
    const second = index.drain();
    expect(first.byteLength).toBe(10 * KEY_INDEX_ENTRY_BYTES);
    expect(second.byteLength).toBe(5_000 * KEY_INDEX_ENTRY_BYTES);

    const seqs = (chunk: Uint8Array): number[] => {
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      return Array.from({ length: chunk.byteLength / KEY_INDEX_ENTRY_BYTES }, (_, i) =>
        view.getUint32(i * KEY_INDEX_ENTRY_BYTES + 8, true),
      );
    };
    expect(seqs(first)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(seqs(second)).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 10));
  });

  it('drains the right entries when a load grows the table under undrained adds', () => {
    const index = new KeyIndex();
    fill(index, 100, 'new-');
    const stored = new KeyIndex();
    fill(stored, 20_000, 'old-', 1_000);
    index.load(stored.drain()); // grows from 1024 slots to 32,768, moving the 100 undrained entries

    const fresh = new KeyIndex();
    const chunk = index.drain();
    fresh.load(chunk);
    expect(chunk.byteLength).toBe(100 * KEY_INDEX_ENTRY_BYTES);
    expect(fresh.size).toBe(100);
    expect(fresh.add('new-42', 7, 7)).toEqual({ seq: 42, line: 43 });
    expect(fresh.add('old-1000', 7, 7)).toBeUndefined();
  });

  it('round-trips into a fresh index, which then detects duplicates of the loaded keys', () => {
    const original = new KeyIndex();
    const chunks: Uint8Array[] = [];
    for (let batch = 0; batch < 5; batch++) {
      fill(original, 3_000, 'order-', batch * 3_000);
      chunks.push(original.drain());
    }

    const resumed = new KeyIndex();
    for (const chunk of chunks) resumed.load(chunk);
    expect(resumed.size).toBe(15_000);
    // Loaded entries are already stored: they are not drained again.
    expect(resumed.drain().byteLength).toBe(0);
    expect(resumed.add('order-1234', 20_000, 20_001)).toEqual({ seq: 1234, line: 1235 });
    expect(resumed.add('order-14999', 14_999, 15_000)).toBeUndefined(); // re-read after resume
    expect(resumed.add('order-15000', 15_000, 15_001)).toBeUndefined();
    expect(resumed.drain().byteLength).toBe(KEY_INDEX_ENTRY_BYTES);
  });

  it('loads a chunk at any byte offset, as a Buffer read from SQLite may be', () => {
    const index = new KeyIndex();
    index.add('a', 1, 2);
    index.add('b', 3, 4);
    const chunk = index.drain();
    const unaligned = Buffer.alloc(chunk.byteLength + 3);
    unaligned.set(chunk, 3);

    const resumed = new KeyIndex();
    resumed.load(unaligned.subarray(3));
    expect(resumed.add('b', 9, 9)).toEqual({ seq: 3, line: 4 });
    expect(resumed.size).toBe(2);
  });

  it('skips an entry already held when loading, keeping the first owner', () => {
    const index = new KeyIndex();
    index.add('a', 1, 2);
    const chunk = index.drain();
    const resumed = new KeyIndex();
    resumed.load(chunk);
    resumed.load(chunk);
    expect(resumed.size).toBe(1);

    const other = new KeyIndex();
    other.add('a', 5, 6);
    resumed.load(other.drain());
    expect(resumed.add('a', 7, 8)).toEqual({ seq: 1, line: 2 });
  });

  it('grows while loading, straight to the size the chunk needs', () => {
    const index = new KeyIndex();
    fill(index, 20_000);
    const resumed = new KeyIndex();
    resumed.load(index.drain());
    expect(resumed.size).toBe(20_000);
    expect(resumed.bytes).toBe(32_768 * 16 + 1024 * 4); // 20,000 / 0.7 → 32,768 slots

    for (let i = 0; i < 20_000; i += 997) expect(resumed.add(`k${i}`, 99_999, 0)).toEqual({ seq: i, line: i + 1 });
  });

  it('rejects a chunk that is not a whole number of entries', () => {
    const index = new KeyIndex();
    let caught: unknown;
    try {
      index.load(new Uint8Array(17));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(LedgerError);
    expect((caught as LedgerError).code).toBe('LEDGER_UNUSABLE');
    expect((caught as LedgerError).message).toBe(
      'key index chunk has 17 bytes, which is not a multiple of 16: the ledger is damaged or was written by an incompatible version; start the job with a new ledger',
    );
    expect(index.size).toBe(0);
  });

  it('keeps its entries in about hash order, so that a spill sorts them with little movement', () => {
    const index = new KeyIndex({ expectedKeys: 50_000 });
    for (let i = 0; i < 50_000; i++) index.add(`key-${i}`, i, i + 1);
    // The table's slots in order, the empty ones (hash 0, 0) left out.
    const hashes: number[] = [];
    const slots = index.slots;
    for (let at = 0; at < slots.length; at += 4) if ((slots[at]! | slots[at + 1]!) !== 0) hashes.push(slots[at]!);
    expect(hashes).toHaveLength(50_000);
    // Only entries moved past their home slot by a collision, and the few wrapped around the
    // table's end, come before a smaller hash.
    let descents = 0;
    for (let at = 1; at < hashes.length; at++) if (hashes[at]! < hashes[at - 1]!) descents++;
    expect(descents).toBeLessThan(50_000 * 0.3);
  });
});
