/**
 * Huge error messages through the real CLI: the job completes with exactly the failing records
 * failed, and what is stored and printed stays bounded (the run's time is a figure of the long suite).
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { HUGE_MESSAGE_CASES, hugeMessageScenario } from './huge-messages.js';

describe('torture: huge error messages', () => {
  it.each(HUGE_MESSAGE_CASES.map((c) => [c.name, c] as const))(
    '%s',
    async (_name, huge) => {
      const result = await hugeMessageScenario(tempDir(), huge);
      expect(result.problems).toEqual([]);
    },
    150_000,
  );
});
