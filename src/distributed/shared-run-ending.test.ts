import { describe, expect, it } from 'vitest';
import { decide } from './shared-run-ending.js';

describe("a shared run's ending, once every chunk is done", () => {
  it('calls nothing pending: records its workers skipped had an outcome from an earlier run', () => {
    // 100 of the 20,000 records were done by a re-run before this shared run: its chunks skip them.
    expect(decide({ total: 20_000, succeeded: 19_900, failed: 0, skipped: 0 }, 0.05, Number.MAX_SAFE_INTEGER)).toEqual({
      status: 'completed',
      reason: 'every record succeeded',
    });
  });

  it('judges the thresholds on all workers outcomes together', () => {
    expect(decide({ total: 100, succeeded: 90, failed: 10, skipped: 0 }, 0.05, Number.MAX_SAFE_INTEGER)).toEqual({
      status: 'threshold-exceeded',
      reason: 'failure rate 10.00% is above maxFailureRate 5.00%',
    });
  });
});
