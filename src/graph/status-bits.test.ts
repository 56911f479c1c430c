import { describe, expect, it } from 'vitest';
import { StatusBits } from './status-bits.js';

describe('StatusBits', () => {
  it('knows nothing about a record it was never told about, even far past its size', () => {
    const bits = new StatusBits();
    for (const seq of [0, 1, 7, 8, 8191, 8192, 1_000_000]) {
      expect(bits.succeeded(seq)).toBe(false);
      expect(bits.blocked(seq)).toBe(false);
    }
    expect(bits.bytes).toBe(2048);
  });

  it('keeps succeeded and blocked exclusive: the latest one wins', () => {
    const bits = new StatusBits();
    bits.setBlocked(5);
    expect([bits.succeeded(5), bits.blocked(5)]).toEqual([false, true]);
    bits.setSucceeded(5);
    expect([bits.succeeded(5), bits.blocked(5)]).toEqual([true, false]);
    bits.setBlocked(5);
    expect([bits.succeeded(5), bits.blocked(5)]).toEqual([false, true]);
    bits.clear(5);
    expect([bits.succeeded(5), bits.blocked(5)]).toEqual([false, false]);
  });

  it('touches only the bit of the record named (byte boundaries included)', () => {
    const bits = new StatusBits();
    for (const seq of [0, 7, 8, 15, 16]) bits.setSucceeded(seq);
    bits.setBlocked(9);
    const succeeded = Array.from({ length: 24 }, (_, seq) => seq).filter((seq) => bits.succeeded(seq));
    const blocked = Array.from({ length: 24 }, (_, seq) => seq).filter((seq) => bits.blocked(seq));
    expect(succeeded).toEqual([0, 7, 8, 15, 16]);
    expect(blocked).toEqual([9]);
    bits.clear(8);
    expect(bits.succeeded(7)).toBe(true);
    expect(bits.succeeded(8)).toBe(false);
    expect(bits.succeeded(15)).toBe(true);
  });

  it('grows (doubling) without losing what it holds', () => {
    const bits = new StatusBits();
    bits.setSucceeded(3);
    bits.setBlocked(8191);
    bits.setBlocked(8192); // first seq past the initial 1024 bytes
    expect(bits.bytes).toBe(2 * 2048);
    bits.setSucceeded(10_000_000);
    expect(bits.bytes).toBe(2 * 2 ** 21); // 1024 × 2^11 bytes ≥ 10M / 8
    expect(bits.succeeded(3)).toBe(true);
    expect(bits.blocked(8191)).toBe(true);
    expect(bits.blocked(8192)).toBe(true);
    expect(bits.succeeded(10_000_000)).toBe(true);
    expect(bits.succeeded(9_999_999)).toBe(false);
    expect(bits.succeeded(10_000_001)).toBe(false);
  });

  it('marks whole ranges succeeded, ends included, growing as needed', () => {
    const bits = new StatusBits();
    bits.setSucceededRange(5, 20_000);
    expect(bits.succeeded(4)).toBe(false);
    expect(bits.succeeded(5)).toBe(true);
    expect(bits.succeeded(12_345)).toBe(true);
    expect(bits.succeeded(20_000)).toBe(true);
    expect(bits.succeeded(20_001)).toBe(false);
    bits.setSucceededRange(30_000, 30_000);
    expect(bits.succeeded(30_000)).toBe(true);
    expect(bits.succeeded(29_999)).toBe(false);
  });
});
