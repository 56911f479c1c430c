import { describe, expect, it } from 'vitest';
import { noteSeqs, suspectFromRow, suspectsAfterCrash, suspectToRow } from './crash-evidence.js';
import type { CrashSuspect } from './ledger.js';

const none = (): undefined => undefined;
const nothingFinished = (): boolean => false;

describe('crash evidence', () => {
  it('names the started records and the ranges ahead, once each', () => {
    expect([...noteSeqs({ started: [7, 3], ahead: [{ first: 3, last: 5 }], group: false })].sort((a, b) => a - b)).toEqual([3, 4, 5, 7]);
  });

  it('makes a normal-mode crash suspects at the job concurrency, less the finished records, keeping earlier suspects as they were', () => {
    const earlier: CrashSuspect = { groupSize: 2, aloneCrashes: 1, runIds: ['a'] };
    const suspects = suspectsAfterCrash(
      { started: [1, 2], ahead: [{ first: 3, last: 4 }], group: false },
      'dead',
      (seq) => seq === 3,
      (seq) => (seq === 4 ? earlier : undefined),
    );
    expect([...suspects]).toEqual([
      [1, { groupSize: undefined, aloneCrashes: 0, runIds: [] }],
      [2, { groupSize: undefined, aloneCrashes: 0, runIds: [] }],
    ]);
  });

  it("halves a group that crashed, never growing a member's smaller group", () => {
    const suspects = suspectsAfterCrash({ started: [1, 2, 3, 4, 5], ahead: [], group: true }, 'dead', nothingFinished, (seq) =>
      seq === 5 ? { groupSize: 2, aloneCrashes: 0, runIds: [] } : undefined,
    );
    expect(suspects.get(1)).toEqual({ groupSize: 3, aloneCrashes: 0, runIds: [] });
    expect(suspects.get(5)).toEqual({ groupSize: 2, aloneCrashes: 0, runIds: [] });
  });

  it('counts a crash alone against the record, naming the run', () => {
    const once = suspectsAfterCrash({ started: [9], ahead: [], group: true }, 'r1', nothingFinished, none).get(9) as CrashSuspect;
    expect(once).toEqual({ groupSize: 1, aloneCrashes: 1, runIds: ['r1'] });
    const twice = suspectsAfterCrash({ started: [9], ahead: [], group: true }, 'r2', nothingFinished, () => once);
    expect(twice.get(9)).toEqual({ groupSize: 1, aloneCrashes: 2, runIds: ['r1', 'r2'] });
  });

  it('stores a suspect as a row and reads it back, PostgreSQL int8 strings included', () => {
    const suspect: CrashSuspect = { groupSize: undefined, aloneCrashes: 2, runIds: ['a', 'b'] };
    const row = suspectToRow(4, suspect);
    expect(row).toEqual({ seq: 4, group_size: null, alone_crashes: 2, run_ids: '["a","b"]' });
    expect(suspectFromRow(row)).toEqual(suspect);
    expect(suspectFromRow({ group_size: '3', alone_crashes: '0', run_ids: '[]' })).toEqual({ groupSize: 3, aloneCrashes: 0, runIds: [] });
  });
});
