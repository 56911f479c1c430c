/**
 * A run whose first records are (nearly) all invalid has a job problem, not a data problem: a `key`
 * function reading a field the records lack (every key "undefined": all but the first fail as
 * duplicates), a JSON file given to `jsonl()`, a CSV read with the wrong delimiter. Before, such a
 * run went through the whole source recording every record as a failure (10 million rows for a
 * 10-million-record input). Now it stops after the first 100 with status `aborted` (exit code 3),
 * saying what is wrong; once the job is fixed, `rerun --failed` processes those records.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob } from '../../src/job.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { tempDir } from '../helpers/temp.js';

interface Row {
  id: number;
}

function setup(lines: string[]) {
  const dir = tempDir();
  const path = join(dir, 'in.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  const handled: number[] = [];
  let fixed = false;
  const job = (options: { breaker?: { enabled: boolean } } = {}) =>
    defineJob<Row>({
      name: 'invalid-start',
      source: jsonl<Row>(path),
      key: (r) => String(fixed ? r.id : (r as unknown as { ID: number }).ID),
      handler: async (r) => {
        handled.push(r.id);
      },
      ...options,
    });
  return { ledger: join(dir, 'l.sqlite'), handled, job, fix: () => (fixed = true) };
}

const records = (count: number): string[] => Array.from({ length: count }, (_, id) => JSON.stringify({ id }));

describe('a run whose first records are nearly all invalid', () => {
  it('stops after the first 100 as aborted, saying why; fixed, rerun --failed processes them and run goes on', async () => {
    const t = setup(records(5000));
    const aborted = await runJob(t.job(), { ledger: t.ledger });
    expect(aborted.status).toBe('aborted');
    expect(aborted.thisRun).toEqual({ succeeded: 1, failed: 99, skipped: 0 });
    expect(aborted.reason).toBe(
      '99 of the first 100 records this run read were invalid (duplicate key "undefined": line 2 repeats the key of line 1; the first one is processed, this one is not): ' +
        "the job's key function or the source's format is wrong, not the records; fix it, then `rerun --failed` processes them and `run` goes on",
    );
    t.fix();
    expect(await runJob(t.job(), { ledger: t.ledger, rerun: {} })).toMatchObject({ thisRun: { succeeded: 99, failed: 0 } });
    expect(await runJob(t.job(), { ledger: t.ledger })).toMatchObject({ status: 'completed', total: 5000, succeeded: 5000 });
  });

  it('redacts the example it quotes, as the stored failure is', async () => {
    const t = setup(records(200));
    const secret = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    const { name, source, handler } = t.job();
    const job = defineJob<Row>({
      name,
      source,
      handler,
      key: () => {
        throw new Error(`no key in a record fetched with token ${secret}`);
      },
    });
    const aborted = await runJob(job, { ledger: t.ledger });
    expect(aborted.status).toBe('aborted');
    expect(aborted.reason).toContain('(job.key threw: no key in a record fetched with token [redacted])');
    expect(aborted.reason).not.toContain(secret);
  });

  it('does not stop for a few bad records among good ones, nor with the breaker turned off', async () => {
    const mixed = setup(records(300).map((line, i) => (i % 10 === 0 ? '{broken' : line)));
    mixed.fix();
    expect(await runJob(mixed.job(), { ledger: mixed.ledger, maxFailureRate: 1 })).toMatchObject({ status: 'completed', failed: 30 });
    const off = setup(records(300));
    expect(await runJob(off.job({ breaker: { enabled: false } }), { ledger: off.ledger, maxFailureRate: 1 })).toMatchObject({
      status: 'completed',
      failed: 299,
    });
  });
});
