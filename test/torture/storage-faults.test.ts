/**
 * Storage faults through the real CLI: a full disk (a 2 MB tmpfs), damaged ledger pages, a key file
 * cut mid-entry. Each must stop the run with exit 4 and one line (or, for the key file, be
 * rebuilt), damage nothing, and the job must then finish exactly. The long suite (`npm run
 * torture`) adds more places and amounts of full disk, truncated, emptied and deleted ledgers, and
 * deleted and emptied key files.
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { canMount } from './faults.js';
import { keyFileLossScenario } from './key-file-loss.js';
import { damagedLedgerScenario, diskFullScenario } from './storage-faults.js';

describe('torture: storage faults', () => {
  // A tmpfs needs root; CI and the development machine run as root. Elsewhere this case cannot run.
  it.runIf(canMount())(
    'disk full mid-run under the ledger and the output: exit 4, no damage, then an exact resume',
    async () => {
      const result = await diskFullScenario(tempDir(), { where: 'ledger and output', headroomBytes: 128 * 1024, records: 8_000 });
      expect(result.problems).toEqual([]);
    },
    60_000,
  );

  it.each(['with damaged pages'] as const)(
    'a ledger %s: exit 4, nothing touched; restored, it resumes exactly',
    async (damage) => {
      const result = await damagedLedgerScenario(tempDir(), damage);
      expect(result.problems).toEqual([]);
    },
    60_000,
  );

  it.each(['cut mid-entry'] as const)(
    'the key file %s between runs: rebuilt or refused, never a wrong outcome',
    async (loss) => {
      const result = await keyFileLossScenario(tempDir(), loss);
      expect(result.problems).toEqual([]);
    },
    60_000,
  );
});
