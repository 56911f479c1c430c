/**
 * A job file's `onEvent` through the real CLI: it gets the run's events beside the CLI's own
 * display, and one that throws leaves the run's outcome as it was, with a warning.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function hookedJob(dir: string, onEvent: string): void {
  writeJsonl(dir, 'hooked.jsonl', 40);
  writeFileSync(
    join(dir, 'hooked.mjs'),
    `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'hooked', source: jsonl('hooked.jsonl'), key: (r) => String(r.id), maxFailureRate: 1,
  handler: async (r) => { if (r.id % 10 === 3) throw new FatalError('bad ' + r.id); return r; },
  onEvent: ${onEvent},
});
`,
  );
}

describe('a job file’s onEvent', () => {
  it('receives the typed events of a CLI run, a success per record included', async () => {
    const dir = tempDir();
    hookedJob(
      dir,
      `(event) => { if (event.type !== 'checkpoint' && event.type !== 'attempt:ended') appendFileSync('events.jsonl', JSON.stringify(event.type === 'run:finished' ? { type: event.type, status: event.summary.status } : event) + '\\n'); }`,
    );
    const result = await runCli(['run', 'hooked.mjs', '--no-progress'], { cwd: dir });
    expect(result.code).toBe(0);
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; key?: string; attempts?: number; attemptDurationsMs?: number[] });
    expect(events[0]?.type).toBe('run:started');
    expect(events.at(-1)).toEqual({ type: 'run:finished', status: 'completed' });
    const succeeded = events.filter((e) => e.type === 'record:succeeded');
    expect(succeeded).toHaveLength(36);
    expect(succeeded[0]).toMatchObject({ key: '0', attempts: 1, attemptDurationsMs: [expect.any(Number)] });
    expect(events.filter((e) => e.type === 'record:failed').map((e) => e.key)).toEqual(['3', '13', '23', '33']);
  });

  it('one that throws never breaks the run: same outcome, and a warning naming it', async () => {
    const dir = tempDir();
    hookedJob(dir, `(event) => { if (event.type === 'record:failed') throw new Error('hook is broken'); }`);
    const result = await runCli(['run', 'hooked.mjs', '--no-progress', '--json'], { cwd: dir });
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as { succeeded: number; failed: number; warnings: string[] };
    expect(summary).toMatchObject({ succeeded: 36, failed: 4 });
    expect(summary.warnings).toEqual([
      "the job's onEvent failed 4 time(s), first on a record:failed event: Error: hook is broken; the run went on without those calls",
    ]);
  });
});
