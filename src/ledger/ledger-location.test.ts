import { describe, expect, it } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import { defineJob, type JobOptions } from '../job.js';
import { checkLedgerOption, resolveLedgerLocation } from './ledger-location.js';

const job = (extra: Partial<JobOptions<number>>) =>
  defineJob<number>({ name: 'orders', source: [1], key: String, handler: async () => 1, ...extra });

describe('where the ledger is', () => {
  it('defaults to .batchguard/<name>.sqlite beside the job file, whatever the working directory', () => {
    expect(resolveLedgerLocation({ jobName: 'orders', jobFile: '/srv/jobs/orders.job.ts', cwd: '/home/me' })).toBe(
      '/srv/jobs/.batchguard/orders.sqlite',
    );
    expect(resolveLedgerLocation({ jobName: 'orders', jobFile: 'jobs/orders.job.ts', cwd: '/home/me' })).toBe(
      '/home/me/jobs/.batchguard/orders.sqlite',
    );
  });

  it('without a job file (a run from code), uses the working directory', () => {
    expect(resolveLedgerLocation({ jobName: 'orders', cwd: '/home/me' })).toBe('/home/me/.batchguard/orders.sqlite');
  });

  it("takes the job's ledger relative to the job file, and --ledger relative to the working directory, over it", () => {
    const jobLedger = job({ ledger: 'state/orders.sqlite' }).ledger;
    expect(resolveLedgerLocation({ jobName: 'orders', jobLedger, jobFile: '/srv/jobs/orders.job.ts', cwd: '/home/me' })).toBe(
      '/srv/jobs/state/orders.sqlite',
    );
    expect(
      resolveLedgerLocation({ jobName: 'orders', jobLedger, flag: 'x.sqlite', jobFile: '/srv/jobs/orders.job.ts', cwd: '/home/me' }),
    ).toBe('/home/me/x.sqlite');
  });

  it('accepts a file: URL as the job ledger (relative to the module that defines the job)', () => {
    expect(job({ ledger: new URL('./state/o.sqlite', 'file:///srv/jobs/orders.job.ts') }).ledger).toBe('/srv/jobs/state/o.sqlite');
  });

  it('refuses a job ledger that is not a file path, naming the field', () => {
    for (const bad of [42, '', '  ', { path: 'x' }]) {
      const error = configError(() => job({ ledger: bad as string }));
      expect(error.field).toBe('ledger');
      expect(error.message).toMatch(/^job\.ledger must be the ledger's file path \(relative to the job file\)/);
    }
    expect(configError(() => job({ ledger: new URL('https://example.com/x') })).message).toBe(
      'job.ledger must be a file path, a file: URL or a postgres: URL; got https: URL',
    );
    expect(configError(() => job({ keepRuns: 0 })).message).toBe('keepRuns must be an integer from 1 to 100000; got 0');
  });

  it('refuses :memory:, which used to create a file of that name', () => {
    const error = configError(() => resolveLedgerLocation({ jobName: 'orders', flag: ':memory:', cwd: '/tmp' }));
    expect(error.message).toBe(
      '--ledger ":memory:": batchguard has no in-memory ledger (a ledger that disappears with the process cannot resume a run); give a file path, e.g. --ledger /tmp/job.sqlite, or --ledger memory for a run that needs no resume',
    );
    expect(configError(() => checkLedgerOption(':memory:')).field).toBe('job.ledger');
  });

  it('takes a PostgreSQL URL as given, and refuses other URLs without repeating their credentials', () => {
    for (const url of ['postgres://app:s3cret@db/orders', 'postgresql://app:s3cret@db/orders', 'POSTGRES://db/x', 'postgres:']) {
      expect(resolveLedgerLocation({ jobName: 'orders', flag: url, cwd: '/tmp' })).toBe(url);
      expect(resolveLedgerLocation({ jobName: 'orders', jobLedger: checkLedgerOption(url), cwd: '/tmp' })).toBe(url);
    }
    expect(checkLedgerOption(new URL('postgres://db/x'))).toBe('postgres://db/x');
    const error = configError(() => resolveLedgerLocation({ jobName: 'o', flag: 'mysql://app:s3cret@db/x', cwd: '/tmp' }));
    expect(error.message).toBe(
      '--ledger mysql://…: a ledger is the path of a SQLite file or a postgres:// URL; there is no mysql:// ledger',
    );
  });
});
