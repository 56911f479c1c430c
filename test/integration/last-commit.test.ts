/**
 * The run's last commit, written after its loop has ended: what goes wrong while it is on its way
 * is why the run ended, as it would be a moment earlier. (An error that escapes the job's code
 * meanwhile is in escaped-errors.test.ts: it needs a process of its own.)
 */
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { memoryLedger } from '../../src/testing/index.js';
import { itemsJob } from '../helpers/jobs.js';

describe("the run's last commit", () => {
  it("that the ledger refuses fails the run with the ledger's error, not a summary of records it did not keep", async () => {
    const ledger: Ledger = memoryLedger();
    const commit = ledger.commit.bind(ledger);
    const refused = new Error('the disk went away at the last commit');
    // The last commit is the one that says the source was read to its end.
    ledger.commit = async (batch) => {
      if (batch.exhausted) throw refused;
      return commit(batch);
    };
    const done = runJob(itemsJob('last-commit', 10), { ledger });
    await expect(done).rejects.toBe(refused);
    expect(await ledger.counts()).toMatchObject({ succeeded: 0 });
    expect((await ledger.runs(1))[0]).toMatchObject({ status: 'failed' });
  });
});
