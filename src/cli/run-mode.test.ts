import { describe, expect, it } from 'vitest';
import { defineJob } from '../job.js';
import { jsonl } from '../sources/jsonl.js';
import { jsonlOutput } from '../sinks/jsonl-output.js';
import { ConfigError } from '../errors.js';
import { chooseRunMode, NO_WORKER_GIVEN, refuseWorkerFlags } from './run-mode.js';

const PG = 'postgres://app@db/jobs';
const base = {
  name: 'orders',
  source: jsonl<{ id: number }>('/data/orders.jsonl'),
  key: (r: { id: number }) => String(r.id),
  handler: async () => {},
};
const shareable = defineJob(base);

describe('chooseRunMode', () => {
  it('over PostgreSQL, a job that can be shared runs as a worker without --worker', () => {
    expect(chooseRunMode(shareable, PG, {}, undefined)).toEqual({ kind: 'worker' });
    expect(chooseRunMode(shareable, 'postgres:', {}, undefined)).toEqual({ kind: 'worker' });
  });

  it('over SQLite or memory, one process; --worker is a worker whatever the ledger (refused where it opens)', () => {
    expect(chooseRunMode(shareable, '/jobs/.batchguard/orders.sqlite', {}, undefined)).toEqual({ kind: 'single' });
    expect(chooseRunMode(shareable, 'memory', {}, undefined)).toEqual({ kind: 'single' });
    expect(chooseRunMode(shareable, 'memory', { worker: true }, undefined)).toEqual({ kind: 'worker' });
  });

  it('--no-worker and a rerun are one process, silently', () => {
    expect(chooseRunMode(shareable, PG, { worker: false }, undefined)).toEqual({ kind: 'single', notWorker: NO_WORKER_GIVEN });
    expect(chooseRunMode(shareable, PG, {}, { keys: ['1'] })).toEqual({ kind: 'single', notWorker: 'a rerun runs as one process' });
    // `rerun --worker`: a shared rerun.
    expect(chooseRunMode(shareable, PG, { worker: true }, { keys: ['1'] })).toEqual({ kind: 'worker' });
  });

  it('a job that cannot be shared runs as one process and says why; a job with dependsOn is shared', () => {
    const deps = defineJob({ ...base, dependsOn: () => [] });
    expect(chooseRunMode(deps, PG, {}, undefined)).toEqual({ kind: 'worker' });
    const output = defineJob({ ...base, output: jsonlOutput('out.jsonl') });
    expect(chooseRunMode(output, PG, {}, undefined)).toEqual({
      kind: 'single',
      announce: true,
      notWorker: 'job orders writes an output file, which several workers cannot share',
    });
    const iterable = defineJob({ ...base, source: [{ id: 1 }] });
    const mode = chooseRunMode(iterable, PG, {}, undefined);
    expect(mode).toMatchObject({ kind: 'single', announce: true });
    expect(mode.kind === 'single' && mode.notWorker).toMatch(/^the source .+ cannot start reading in the middle/);
  });

  it('a flag a worker refuses makes one process, and is refused with --worker', () => {
    expect(chooseRunMode(shareable, PG, { maxRecords: 5 }, undefined)).toMatchObject({
      kind: 'single',
      announce: true,
      notWorker: expect.stringMatching(/^--max-records was given, which a worker refuses: a worker takes chunks until/),
    });
    expect(() => refuseWorkerFlags({ takeOver: true })).toThrow(ConfigError);
    expect(() => refuseWorkerFlags({ takeOver: true })).toThrow(/^--take-over cannot be used with --worker: /);
    expect(() => refuseWorkerFlags({ lease: '5s' })).not.toThrow();
  });
});
