import { describe, expect, it } from 'vitest';
import { parseLeaseFlag } from './lease-flag.js';

describe('--lease', () => {
  it('takes a duration in the range a lease may have', () => {
    expect(parseLeaseFlag('15s')).toEqual({ expireMs: 15_000 });
    expect(parseLeaseFlag('100ms')).toEqual({ expireMs: 100 });
  });

  it('refuses one outside it, naming the flag, not the option it becomes', () => {
    expect(() => parseLeaseFlag('1ms')).toThrow('--lease must be from 100ms to 1d; got "1ms"');
    expect(() => parseLeaseFlag('25h')).toThrow('--lease must be from 100ms to 1d; got "25h"');
    expect(() => parseLeaseFlag('soon')).toThrow(/^--lease must be a duration/);
  });
});
