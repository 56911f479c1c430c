/**
 * One output file, one ledger: a second ledger's run is refused before it writes a line, a moved
 * ledger keeps its output, a first run that died before committing can claim its output again.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob, startRun } from '../../src/engine/run-job.js';
import { SinkError } from '../../src/errors.js';
import { jsonlOutput } from '../../src/sinks/jsonl-output.js';
import { itemsJob } from '../helpers/jobs.js';
import { tempDir } from '../helpers/temp.js';

const lines = (path: string): unknown[] =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
const job = (dir: string, count: number, handler?: () => Promise<unknown>) =>
  itemsJob('owned', count, { output: jsonlOutput(join(dir, 'out.jsonl')), ...(handler ? { handler } : {}) });

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the run was not refused');
}

describe('an output file belongs to one ledger', () => {
  it("refuses a second ledger's run, naming the ledger that owns the file, and the output stays as the first wrote it", async () => {
    const dir = tempDir();
    const first = join(dir, 'a.sqlite');
    expect((await runJob(job(dir, 50), { ledger: first })).succeeded).toBe(50);
    const error = await rejection(runJob(job(dir, 50), { ledger: join(dir, 'b.sqlite') }));
    expect(error).toBeInstanceOf(SinkError);
    expect(error.message).toContain(`the output file ${join(dir, 'out.jsonl')} belongs to the ledger ${first} (job owned, since `);
    expect(error.message).toContain(`not to ${join(dir, 'b.sqlite')}`);
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(50);
    // The output itself stays plain JSONL: the claim is in a file beside it.
    expect(JSON.parse(readFileSync(join(dir, 'out.jsonl.owner'), 'utf8'))).toMatchObject({ ledger: first, job: 'owned' });
  });

  it('refuses two ledgers started at the same moment on an empty output: only one writes', async () => {
    const dir = tempDir();
    const slow = () => new Promise((resolve) => setTimeout(() => resolve('ok'), 1));
    const a = startRun(job(dir, 200, slow), { ledger: join(dir, 'a.sqlite') });
    const b = startRun(job(dir, 200, slow), { ledger: join(dir, 'b.sqlite') });
    const results = await Promise.allSettled([a.done, b.done]);
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(SinkError);
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(200);
  });

  it('keeps the output of a ledger that was moved to another path', async () => {
    const dir = tempDir();
    await runJob(job(dir, 30), { ledger: join(dir, 'a.sqlite'), maxRecords: 10 });
    for (const suffix of ['', '-wal', '-shm', '.keys']) {
      try {
        renameSync(join(dir, `a.sqlite${suffix}`), join(dir, `moved.sqlite${suffix}`));
      } catch {
        // WAL and shared-memory files exist only while a connection is open.
      }
    }
    const summary = await runJob(job(dir, 30), { ledger: join(dir, 'moved.sqlite') });
    expect(summary).toMatchObject({ succeeded: 30, alreadyDone: 10 });
    expect(lines(join(dir, 'out.jsonl'))).toHaveLength(30);
    expect(JSON.parse(readFileSync(join(dir, 'out.jsonl.owner'), 'utf8')).ledger).toBe(join(dir, 'moved.sqlite'));
  });

  it('lets a ledger whose first run committed nothing claim its own output again', async () => {
    const dir = tempDir();
    const ledger = join(dir, 'a.sqlite');
    // The claim of a first run that died before its first commit.
    writeFileSync(join(dir, 'out.jsonl.owner'), `${JSON.stringify({ id: 'x', ledger, job: 'owned', claimedAt: 'then' })}\n`);
    expect((await runJob(job(dir, 20), { ledger })).succeeded).toBe(20);
  });

  it('says so when the owner file is damaged', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'out.jsonl.owner'), 'garbage');
    const error = await rejection(runJob(job(dir, 5), { ledger: join(dir, 'a.sqlite') }));
    expect(error.message).toBe(
      `the output's owner file ${join(dir, 'out.jsonl.owner')} is damaged (it should hold {"id", "ledger", …}); delete it if the output belongs to this job's ledger`,
    );
  });
});
