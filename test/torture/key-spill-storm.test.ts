/**
 * A short storm on the SQLite ledger's key index spilling on its worker thread (the long one, 25
 * kills, is `npm run torture`): 6 SIGKILLs at random moments of a child adding keys with a spill
 * every 10 commits; after each, the next child must find exactly what the ledger committed, every
 * key with its seq, and only the runs its manifest lists. Runs on the built ledger (dist/).
 */
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';
import { keySpillStormScenario } from './key-spill-storm.js';

describe('torture: key spills SIGKILLed', () => {
  it('6 SIGKILLs of runs spilling keys on their worker: each resume holds exactly the committed keys', async () => {
    const result = await keySpillStormScenario({ dir: tempDir(), kills: 6, seed: 6, maxWaitMs: 300, fromSpawnMs: 600, finalKeys: 2000 });
    expect(result.problems).toEqual([]);
    expect(result.kills).toBe(6);
    expect(result.lost + result.duplicated).toBe(0);
  }, 60_000);
});
