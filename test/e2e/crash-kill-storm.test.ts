/**
 * Outside kills are not poison: 25 SIGKILLs, each at a random moment while records are being
 * processed (suspect groups included, since a resumed run starts with them), quarantine no record.
 * Afterwards the job completes with every record succeeded.
 *
 * The runs are plain `node run.mjs` processes calling runJob() from the build (the CLI's start-up,
 * ~1.5 s here with the TypeScript loader, would make 25 kills take over a minute).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor, writeJsonl } from '../helpers/cli.js';
import { seededInts } from '../helpers/random.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 20_000;
const CONCURRENCY = 64;
const KILLS = 25;

const DIST = resolve(import.meta.dirname, '../../dist/index.js');

function startRun(
  dir: string,
): ReturnType<typeof spawn> & { result: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [join(dir, 'run.mjs')], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const result = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
  return Object.assign(child, { result });
}

function size(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

describe('random outside kills (real process, SIGKILL)', () => {
  it(`${KILLS} SIGKILLs at random moments quarantine no record, and the job then completes`, async () => {
    const dir = tempDir();
    writeJsonl(dir, 'records.jsonl', RECORDS);
    const calls = join(dir, 'calls.log');
    writeFileSync(
      join(dir, 'run.mjs'),
      `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl, runJob } from ${JSON.stringify(DIST)};

const job = defineJob({
  name: 'storm',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  concurrency: ${CONCURRENCY},
  handler: async (r) => {
    appendFileSync(${JSON.stringify(calls)}, r.id + '\\n');
    await new Promise((resolve) => setTimeout(resolve, 20));
  },
});
// The previous run was killed holding the lease: take it over rather than wait for it to expire.
const summary = await runJob(job, { cwd: ${JSON.stringify(dir)}, takeOver: true });
console.log(JSON.stringify(summary));
`,
    );
    const random = seededInts(20261130);
    let kills = 0;
    while (kills < KILLS) {
      const before = size(calls);
      const run = startRun(dir);
      let ended = false;
      void run.result.then(() => (ended = true));
      // The first handler call of this run, then a random moment within the next 150 ms: early
      // kills land while the previous kill's suspects run in their groups.
      await waitFor(() => ended || size(calls) > before, 30_000);
      await new Promise((resolve) => setTimeout(resolve, random(150)));
      run.kill('SIGKILL');
      const result = await run.result;
      if (result.signal !== 'SIGKILL') {
        // The run ended by itself before the kill: the storm has outlived the job.
        expect(result.code, result.stderr).toBe(0);
        break;
      }
      kills++;
    }
    expect(kills).toBe(KILLS);

    const last = await startRun(dir).result;
    expect(last.code, last.stderr).toBe(0);
    expect(JSON.parse(last.stdout)).toMatchObject({ status: 'completed', total: RECORDS, succeeded: RECORDS, failed: 0, pending: 0 });
  }, 120_000);
});
