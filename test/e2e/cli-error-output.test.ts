/**
 * The CLI's top-level error line quotes user input (paths, URLs): secrets in it are masked and
 * terminal escape sequences are shown escaped, never written raw.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

describe('top-level error messages', () => {
  it('show terminal escape sequences in user input escaped, not raw', async () => {
    const dir = tempDir();
    const { code, stderr } = await runCli(['status', join(dir, '\u001b[2J\u001b]0;owned\u0007job.mjs')], { cwd: dir });
    expect(code).toBe(2);
    expect(stderr).toMatch(/^batchguard: error: /);
    expect(stderr).not.toContain('\u001b');
    expect(stderr).not.toContain('\u0007');
    expect(stderr).toContain('\\e[2J');
  });

  it('mask a secret quoted in the message', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'job.mjs'), "export default { name: 'x', source: [], key: String, handler: async () => 1 };\n");
    // The ledger does not exist: the message quotes its path.
    const { stderr } = await runCli(['status', 'job.mjs', '--ledger', join(dir, 'x?api_key=s3cr3tvalue123/l.sqlite')], { cwd: dir });
    expect(stderr).toMatch(/^batchguard: error: no ledger at /);
    expect(stderr).not.toContain('s3cr3tvalue123');
  });
});
