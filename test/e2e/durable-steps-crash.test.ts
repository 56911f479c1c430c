/**
 * Durable steps across a crash: the process is SIGKILLed inside a record's third step, after its
 * first two completed; the resume replays those two from the ledger instead of repeating them.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

describe('durable steps across a SIGKILL (real process)', () => {
  it('a resume does not repeat the side effects of the steps that completed before the crash', async () => {
    const dir = tempDir();
    writeJsonl(dir, 'orders.jsonl', 3);
    const effects = join(dir, 'effects.log');
    writeFileSync(
      join(dir, 'job.ts'),
      `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';

const log = (line: string) => appendFileSync(${JSON.stringify(effects)}, line + '\\n');
const crashed = ${JSON.stringify(join(dir, 'crashed'))};

export default defineJob({
  name: 'steps-crash',
  source: jsonl<{ id: number }>(${JSON.stringify(join(dir, 'orders.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: 1,
  handler: async (r, ctx) => {
    const charge = await ctx.step('charge', () => { log('charge ' + r.id); return 'ch_' + r.id; });
    await ctx.step('receipt', () => { log('receipt ' + r.id + ' ' + charge); });
    return ctx.step('email', () => {
      if (r.id === 1 && !existsSync(crashed)) {
        writeFileSync(crashed, '');
        process.kill(process.pid, 'SIGKILL');
      }
      log('email ' + r.id);
      return 'sent';
    });
  },
});
`,
    );
    const first = await runCli(['run', 'job.ts', '--no-progress'], { cwd: dir });
    expect(first.signal).toBe('SIGKILL');
    expect(existsSync(join(dir, 'crashed'))).toBe(true);
    const resumed = await runCli(['run', 'job.ts', '--no-progress', '--json'], { cwd: dir });
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'completed', total: 3, succeeded: 3, failed: 0 });
    const lines = readFileSync(effects, 'utf8').trim().split('\n');
    for (const id of [0, 1, 2]) {
      expect(lines.filter((l) => l === `charge ${id}`)).toHaveLength(1);
      expect(lines.filter((l) => l === `receipt ${id} ch_${id}`)).toHaveLength(1);
      expect(lines.filter((l) => l === `email ${id}`)).toHaveLength(1);
    }
  });
});
