/**
 * Hostile handlers through the real CLI, each run until done, the first run's exit code checked and
 * the books balanced. The long suite (`npm run torture`) runs every case, unhandled rejections and
 * a handler that always exits included.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { HOSTILE_CASES, hostileScenario } from './hostile-handlers.js';

const IN_CI = [
  'handler calls process.exit(0) mid-run (once)',
  'handler throws inside setTimeout (once)',
  'a timer set up outside any handler throws mid-run (once)',
  'unserialisable results (BigInt, circular, throwing toJSON) and hostile throws (revoked Proxy, throwing Proxy)',
];

describe('torture: hostile handlers', () => {
  it.each(HOSTILE_CASES.filter((c) => IN_CI.includes(c.name)).map((c) => [c.name, c] as const))(
    '%s',
    async (_name, hostile) => {
      const result = await hostileScenario(tempDir(), hostile);
      expect(result.problems).toEqual([]);
    },
    60_000,
  );

  it('runs every case it names', () => {
    expect(HOSTILE_CASES.map((c) => c.name)).toEqual(expect.arrayContaining(IN_CI));
  });
});
