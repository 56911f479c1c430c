/**
 * A job file that cannot be loaded, through the real CLI: the one error line must say where the
 * mistake is (file, line, column), as it does for a TypeScript job, never only what it is.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const JOB = `import { defineJob } from 'batchguard';
export default defineJob({
  name: 'broken',
  handler: async (r) => { return r +; },
});
`;

describe('a job file with a syntax error', () => {
  for (const file of ['job.mjs', 'job.js']) {
    it(`names the line and column of the mistake in ${file} (exit 2, no stack)`, async () => {
      const dir = tempDir('bg-job-syntax-');
      writeFileSync(join(dir, file), JOB);
      const result = await runCli(['run', file, '--log-format', 'pretty'], { cwd: dir });
      expect(result.code).toBe(2);
      expect(result.stderr).toBe(`batchguard: error: cannot load job file ${join(dir, file)}:4:37: SyntaxError: Unexpected token ';'\n`);
    });
  }
});

describe('a job file that throws while it loads', () => {
  it('names the line of the throw (exit 2, no stack)', async () => {
    const dir = tempDir('bg-job-throws-');
    writeFileSync(join(dir, 'job.mjs'), `const config = {};\nif (!config.url) throw new Error('config.url is missing');\n`);
    const result = await runCli(['run', 'job.mjs', '--log-format', 'pretty'], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`batchguard: error: cannot load job file ${join(dir, 'job.mjs')}:2:24: config.url is missing\n`);
  });
});
