/**
 * Job files load from any folder, and always with the CLI's own copy of batchguard (so
 * `instanceof RetryableError` holds): a scratch folder, a project with this copy installed (loaded
 * without the resolve hook, the fast start-up path), and a project with another copy installed.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const REPO = resolve(import.meta.dirname, '../..');

/** A job whose record 0 throws FatalError: one attempt only if the class is the engine's own. */
function writeJob(dir: string, file: string): void {
  writeJsonl(dir, 'records.jsonl', 5);
  writeFileSync(
    join(dir, file),
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
const seen = new Set();
export default defineJob({
  name: 'loading',
  source: jsonl('records.jsonl'),
  key: (r) => String(r.id),
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 0 } },
  // FatalError is only recognised as fatal when it is the engine's own class: a copy's class would
  // be an unknown Error, retried once more.
  handler: async (r) => { if (r.id === 0) throw new FatalError('no'); },
});
`,
  );
}

function project(dir: string): string {
  writeFileSync(join(dir, 'package.json'), '{ "name": "a-project", "private": true }\n');
  mkdirSync(join(dir, 'node_modules'));
  return join(dir, 'node_modules', 'batchguard');
}

describe('loading job files', () => {
  it('an .mjs job in a project with this copy of batchguard installed uses it', async () => {
    const dir = tempDir();
    symlinkSync(REPO, project(dir));
    writeJob(dir, 'job.mjs');
    const result = await runCli(['run', 'job.mjs', '--json'], { cwd: dir });
    expect(result.stderr).not.toContain('error');
    expect(JSON.parse(result.stdout)).toMatchObject({ succeeded: 4, failed: 1, attempts: 5, retries: 0 });
  }, 60_000);

  it('an .mjs job in a project with another copy of batchguard installed still gets the CLI’s own copy', async () => {
    const dir = tempDir();
    const copy = project(dir);
    mkdirSync(copy);
    writeFileSync(join(copy, 'package.json'), JSON.stringify({ name: 'batchguard', type: 'module', exports: { '.': './index.js' } }));
    writeFileSync(join(copy, 'index.js'), "throw new Error('the project copy of batchguard was loaded');\n");
    writeJob(dir, 'job.mjs');
    const result = await runCli(['run', 'job.mjs', '--json'], { cwd: dir });
    expect(result.stderr).not.toContain('project copy');
    expect(JSON.parse(result.stdout)).toMatchObject({ succeeded: 4, failed: 1, attempts: 5, retries: 0 });
  }, 60_000);

  it.each(['job.mjs', 'job.js', 'job.ts', 'job.mts'])(
    '%s in a scratch folder with no package.json',
    async (file) => {
      const dir = tempDir();
      writeJob(dir, file);
      const result = await runCli(['run', file, '--json'], { cwd: dir });
      expect(result.stderr).not.toContain('error');
      expect(JSON.parse(result.stdout)).toMatchObject({ succeeded: 4, failed: 1, attempts: 5, retries: 0 });
    },
    60_000,
  );
});
