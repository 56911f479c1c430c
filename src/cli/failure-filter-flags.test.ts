import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import type { ErrorGroup } from '../ledger/ledger.js';
import { checkRerunFilter, resolveErrorGroup } from './failure-filter-flags.js';

const group = (fingerprint: string, count: number, kind = 'fatal'): ErrorGroup => ({
  fingerprint,
  name: 'Error',
  message: 'm',
  kind,
  count,
  sampleKeys: [],
  templates: [],
});
const ledgerWith = (groups: ErrorGroup[]) => ({ location: '/data/job.sqlite', topErrors: async () => groups });
const resolve = (groups: ErrorGroup[], given: string) => resolveErrorGroup(ledgerWith(groups), given, 'job.mjs', {});

describe('--error', () => {
  const groups = [group('1dcd422a297b', 7), group('6c5985e13fa5', 3), group('6c59aa000000', 1)];

  it('takes a fingerprint of a failed record as it is, and a unique start of one (any case, 4 characters or more) for the whole', async () => {
    expect(await resolve(groups, '6c5985e13fa5')).toBe('6c5985e13fa5');
    expect(await resolve(groups, '1dcd')).toBe('1dcd422a297b');
    expect(await resolve(groups, '1DCD422A')).toBe('1dcd422a297b');
  });

  it('refuses a start shared by several groups, naming them', async () => {
    await expect(resolve(groups, '6c59')).rejects.toThrow(
      '--error "6c59" is the start of 2 error groups (6c5985e13fa5 (3 records), 6c59aa000000 (1 record)); give more of it',
    );
  });

  it('refuses a group no failed record is in, or a start under 4 characters, naming the groups there are', async () => {
    const unknown = '--error "zzz" is not the error group of any failed record in the ledger /data/job.sqlite; theirs: ';
    await expect(resolve(groups, 'zzz')).rejects.toThrow(
      `${unknown}1dcd422a297b (7 records), 6c5985e13fa5 (3 records), 6c59aa000000 (1 record) (\`batchguard failures job.mjs\` lists them)`,
    );
    await expect(resolve(groups, '1dc')).rejects.toThrow('--error "1dc" is not the error group of any failed record');
    const seven = Array.from({ length: 7 }, (_, i) => group(`${i}`.repeat(12), 1));
    await expect(resolve(seven, 'zzzz')).rejects.toThrow('444444444444 (1 record) and 2 more (`batchguard failures job.mjs` lists them)');
  });

  it('passes a group it cannot see when the ledger has more groups than it reads (1,000)', async () => {
    const many = Array.from({ length: 1000 }, (_, i) => group(i.toString(16).padStart(12, '0'), 1));
    expect(await resolve(many, 'ffffffffffff')).toBe('ffffffffffff');
    expect(await resolve(many, '0000000003e7')).toBe('0000000003e7');
    expect(await checkRerunFilter(ledgerWith(many), { kind: 'timeout' }, 'job.mjs', {})).toEqual({ kind: 'timeout' });
  });

  it('is a configuration error naming the flag (exit 2)', async () => {
    const error = await resolve(groups, 'zzzz').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).field).toBe('--error');
  });

  it('says so when no record has failed at all', async () => {
    await expect(resolve([], '1dcd422a297b')).rejects.toThrow(
      '--error "1dcd422a297b": no record of this job has failed in the ledger /data/job.sqlite',
    );
  });
});

describe("a re-run's --kind", () => {
  const groups = [group('1dcd422a297b', 7), group('6c5985e13fa5', 3, 'timeout'), group('8ac166cccf85', 2, 'timeout')];
  const check = (rerun: Parameters<typeof checkRerunFilter>[1]) => checkRerunFilter(ledgerWith(groups), rerun, 'job.mjs', {});

  it('passes a kind that failed records have, alone or with its group, and resolves the group', async () => {
    expect(await check({ kind: 'timeout' })).toEqual({ kind: 'timeout' });
    expect(await check({ kind: 'timeout', fingerprint: '6c59' })).toEqual({ kind: 'timeout', fingerprint: '6c5985e13fa5' });
    expect(await check({ keys: ['a'] })).toEqual({ keys: ['a'] });
  });

  it('refuses a kind no failed record has, or its group has not, naming the kinds there are', async () => {
    await expect(check({ kind: 'exhausted' })).rejects.toThrow(
      '--kind exhausted: no failed record is of kind exhausted; the failed records: 7 fatal, 5 timeout',
    );
    await expect(check({ kind: 'fatal', fingerprint: '8ac1' })).rejects.toThrow(
      '--kind fatal: no failed record of error group 8ac166cccf85 is of kind fatal; that group: 2 timeout',
    );
    await expect(checkRerunFilter(ledgerWith([]), { kind: 'fatal' }, 'job.mjs', {})).rejects.toThrow(
      '--kind fatal: no failed record is of kind fatal in the ledger /data/job.sqlite',
    );
  });
});
