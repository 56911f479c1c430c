/**
 * A PostgreSQL ledger's first run killed in its start: each of `tries` fresh schemas gets a run
 * SIGKILLed a random 0 … `maxMs` ms after its spawn (before, during or after the message that
 * creates the ledger with the job's rows, the lease's take, the first crash note), then runs until
 * done. Every try's books must balance: a creation cut short leaves nothing or everything, and the
 * next run goes on from either.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { killStormScenario } from './kill-storm.js';
import { pgTableCount } from './postgres-schema.js';
import { jobPaths, type TortureJob } from './torture-job.js';
import type { ScenarioResult } from './scenario.js';

export async function firstRunKillsScenario(dir: string, options: { tries: number; maxMs: number; seed: number }): Promise<ScenarioResult> {
  const tries: ScenarioResult[] = [];
  // Where the kills landed: before the ledger's tables existed, before the first handler call, after it.
  const landed = { noLedger: 0, noCall: 0, working: 0 };
  const look = async (job: TortureJob): Promise<void> => {
    if ((await pgTableCount(job.pgSchema as string)) === 0) landed.noLedger++;
    else if (!existsSync(jobPaths(job).calls)) landed.noCall++;
    else landed.working++;
  };
  for (let i = 0; i < options.tries; i++) {
    const tryDir = join(dir, String(i));
    mkdirSync(tryDir);
    tries.push(
      await killStormScenario({
        dir: tryDir,
        records: 1000,
        concurrency: 8,
        kills: 1,
        seed: options.seed + i,
        fromSpawnMs: options.maxMs,
        ledger: 'postgres',
        output: false,
        transientEvery: 20,
        afterStorm: look,
      }),
    );
  }
  const sum = (figure: (result: ScenarioResult) => number): number => tries.reduce((total, result) => total + figure(result), 0);
  return {
    scenario: `PostgreSQL ledger's first run killed 0–${options.maxMs} ms after its spawn, ${options.tries} fresh schemas (seed ${options.seed})`,
    kills: sum((result) => result.kills),
    endings: tries.flatMap((result) => result.endings),
    booksRead: true,
    records: sum((result) => result.records),
    lost: sum((result) => result.lost),
    duplicated: sum((result) => result.duplicated),
    redone: sum((result) => result.redone),
    innocentQuarantines: sum((result) => result.innocentQuarantines),
    note: `killed with no ledger yet ${landed.noLedger}, before the first call ${landed.noCall}, after it ${landed.working}`,
    problems: tries.flatMap((result, i) => result.problems.map((problem) => `schema ${i}: ${problem}`)),
  };
}
