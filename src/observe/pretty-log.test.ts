import { describe, expect, it } from 'vitest';
import { prettyLine } from './pretty-log.js';

const error = { name: 'Error', message: 'HTTP 503 \u001b[2J' };

describe('prettyLine', () => {
  it.each([
    [
      { event: 'record:failed', key: 'r1', kind: 'exhausted', attempt: 3, error },
      'failed  r1 [exhausted] after 3 attempt(s): Error: HTTP 503 \\e[2J',
    ],
    [
      { event: 'record:retrying', key: 'r1', attempt: 1, delayMs: 200, error },
      'retry   r1 attempt 1 failed (Error: HTTP 503 \\e[2J); next in 200 ms',
    ],
    [{ event: 'record:log', key: 'r1', msg: 'calling', fields: { n: 1 } }, 'log     r1: calling {"n":1}'],
    [{ event: 'record:log', key: 'r1', msg: 'calling' }, 'log     r1: calling'],
    [{ event: 'concurrency:changed', limit: 4, reason: 'overload' }, 'limit   concurrency 4 (overload)'],
    [{ event: 'run:warning', msg: 'the job’s onEvent failed' }, 'batchguard: warning: the job’s onEvent failed'],
    [{ event: 'run:more-failures', msg: '… and 3 more failures' }, '… and 3 more failures'],
    [
      { event: 'breaker:closed', msg: 'breaker closed after 2.0 s; resuming 3 parked records' },
      'batchguard: breaker closed after 2.0 s; resuming 3 parked records',
    ],
    [{ level: 'fatal', event: 'run:error', msg: 'the ledger is held' }, 'batchguard: error: the ledger is held'],
  ])('%j', (entry, line) => {
    expect(prettyLine(entry)).toBe(line);
  });

  it('shows nothing for the summary and the threshold verdict (the table on stdout says them)', () => {
    expect(prettyLine({ event: 'run:summary', msg: 'run x completed' })).toBeUndefined();
    expect(prettyLine({ event: 'run:threshold-exceeded', msg: 'failure threshold exceeded' })).toBeUndefined();
  });

  it('cuts a long error message and keeps every line on one line', () => {
    const line = prettyLine({
      event: 'record:failed',
      key: 'k',
      kind: 'fatal',
      attempt: 1,
      error: { name: 'E', message: `a\nb${'x'.repeat(1000)}` },
    }) as string;
    expect(line).toMatch(/^failed {2}k \[fatal\] after 1 attempt\(s\): E: a\\nbx+…$/);
    expect(line.length).toBeLessThan(360);
    expect(prettyLine({ msg: 'two\nlines' })).toBe('batchguard: two\\nlines');
  });
});
