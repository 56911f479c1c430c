import { describe, expect, it } from 'vitest';
import { formatDryRun } from './format-dry-run.js';

const report = {
  job: 'j',
  source: 'jsonl:in.jsonl',
  ledger: 'l.sqlite',
  total: 3,
  alreadyDone: 0,
  wouldProcess: 1,
  invalid: 2,
  problems: [
    {
      seq: 1,
      line: 2,
      message: 'line 2: invalid JSON: Unexpected token \'\u001b\', "\u001b[2Jnot json\u001b]0;pwn\u0007" is not valid JSON',
    },
    { seq: 2, line: 3, message: 'job.key threw: no id' },
  ],
};

describe('the dry run for a person', () => {
  it("prints the input's bad lines without their escape sequences, each prefixed with its line once", () => {
    const text = formatDryRun(report);
    expect(text.includes('\u001b') || text.includes('\u0007')).toBe(false);
    expect(text).toContain('    line 2: invalid JSON: Unexpected token \'\\e\', "\\e[2Jnot json\\e]0;pwn\\x07" is not valid JSON');
    expect(text).toContain('    line 3: job.key threw: no id');
    expect(text).not.toContain('line 2: line 2');
  });
});
