/**
 * Lost side files: `<ledger>.keys` (the duplicate-key index) is deleted, emptied or cut mid-entry
 * between two runs, as a backup of only the `.sqlite` file would leave it. The job has a duplicate
 * key after the cut and records that depend on records finished before it. The next run must either
 * rebuild what it needs (the duplicate is still caught, the dependents still run) or refuse with
 * exit 4; once the file is restored, the job must finish exactly.
 */
import { copyFileSync, existsSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnCli } from '../helpers/cli.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';
import { refusedAsStorageFault } from './storage-faults.js';
import { ending, runUntilDone } from './storm.js';
import { ruleFailures, runArgs, writeTortureJob, type TortureJob } from './torture-job.js';

export type KeyFileLoss = 'deleted' | 'emptied' | 'cut mid-entry';

const RECORDS = 3000;
/** Records from here on depend on the record PARENT_DISTANCE places before them. */
const CHILDREN_FROM = 1500;
const PARENT_DISTANCE = 500;
/** The first run stops here; the partial run after the damage does the next 500 records. */
const FIRST_RUN = 2000;
/** The last line repeats the key of a record the partial run (after the damage) wrote. */
const DUPLICATE_OF = 2100;

export async function keyFileLossScenario(dir: string, loss: KeyFileLoss): Promise<ScenarioResult> {
  const job: TortureJob = {
    dir,
    records: RECORDS + 1,
    concurrency: 8,
    failEvery: 97,
    delayMs: 0,
    options: `dependsOn: (r) => (r.id >= ${CHILDREN_FROM} && r.name !== 'duplicate' ? [String(r.id - ${PARENT_DISTANCE})] : []),`,
    writeRecords: (path) => {
      const lines = Array.from({ length: RECORDS }, (_, id) => JSON.stringify({ id, name: `record-${id}` }));
      lines.push(JSON.stringify({ id: DUPLICATE_OF, name: 'duplicate' }));
      writeFileSync(path, `${lines.join('\n')}\n`);
    },
  };
  const paths = writeTortureJob(job);
  const keys = `${paths.ledger}.keys`;
  const problems: string[] = [];
  const first = await spawnCli(runArgs(job, '--max-records', String(FIRST_RUN)), { cwd: dir }).result;
  check(problems, first.code === 5, `the first run ended with ${ending(first)}, expected 5`);
  copyFileSync(keys, `${keys}.copy`);

  if (loss === 'deleted') rmSync(keys);
  else if (loss === 'emptied') truncateSync(keys, 0);
  else truncateSync(keys, statSync(keys).size - 8);

  // A partial run first: what it appends after a cut entry is misaligned for the run after it.
  const endings = [ending(first)];
  const partial = await spawnCli(runArgs(job, '--json', '--max-records', '500'), { cwd: dir }).result;
  let runs = partial.code === 4 ? [partial] : [partial, ...(await runUntilDone(job, 4))];
  endings.push(...runs.map(ending));
  if (runs[0]?.code === 4) {
    const refused = refusedAsStorageFault(`the key file ${loss}`, runs[0]);
    if (refused) problems.push(refused);
    copyFileSync(`${keys}.copy`, keys);
    runs = await runUntilDone(job, 4);
    endings.push(...runs.map(ending));
  }
  check(problems, runs.at(-1)?.code === 0, `the job did not complete (runs ended ${endings.join(' ')})`);
  check(problems, existsSync(paths.ledger), 'the ledger is gone');

  // The rule's failures, their dependents skipped, and the duplicate line invalid.
  const expected = expectFailures(ruleFailures({ ...job, records: RECORDS }), 'fatal');
  for (let id = 0; id + PARENT_DISTANCE < RECORDS; id++) {
    if (expected.has(id) && id + PARENT_DISTANCE >= CHILDREN_FROM) expected.set(id + PARENT_DISTANCE, 'skipped');
  }
  expected.set(RECORDS, 'invalid');
  return scenarioResult(`key file ${loss} between runs`, job, expected, { endings, problems });
}
