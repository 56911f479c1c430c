import { describe, expect, it } from 'vitest';
import { formatCount } from './format-count.js';

describe('formatCount', () => {
  it('groups thousands and keeps up to three decimals, as en-US number formatting does', () => {
    for (const value of [0, 7, 999, 1000, 12_345, 1_234_567, -1_234_567, 1234.5, 0.1234, 1_000_000.0004, 98_765.4321]) {
      expect(formatCount(value)).toBe(new Intl.NumberFormat('en-US').format(value));
    }
  });

  it('prints non-finite values as they are', () => {
    expect(formatCount(Number.NaN)).toBe('NaN');
    expect(formatCount(Number.POSITIVE_INFINITY)).toBe('Infinity');
  });
});
