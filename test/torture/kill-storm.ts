/**
 * Kill storms: a job with failing records and a jsonlOutput sink is SIGKILLed at random moments,
 * then resumed until done. Every record must end with exactly one outcome (the failing ones
 * `fatal`, none `crashed`), and the output must hold exactly one line per succeeded record.
 */
import { ruleFailures, writeTortureJob, type TortureJob } from './torture-job.js';
import { ending, killStorm, runUntilDone } from './storm.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';

export interface KillStormOptions {
  dir: string;
  records: number;
  concurrency: number;
  kills: number;
  seed: number;
  /** The longest a run lives before its kill. @default 3000 */
  maxWaitMs?: number;
  /** @default 1 */
  delayMs?: number;
  /** See StormOptions.firstKillAfterBytes. @default 0 */
  firstKillAfterBytes?: number;
}

/** About what one handler call adds to calls.log (`<pid> <id>\n`). */
const CALL_LOG_BYTES = 12;

export async function killStormScenario(options: KillStormOptions): Promise<ScenarioResult> {
  const job: TortureJob = {
    dir: options.dir,
    records: options.records,
    concurrency: options.concurrency,
    failEvery: 97,
    delayMs: options.delayMs ?? 1,
  };
  writeTortureJob(job);
  // On average a run gets 1 / (kills + 2) of the records before its kill, so the kills all land.
  const maxGrowthBytes = Math.floor((2 * CALL_LOG_BYTES * options.records) / (options.kills + 2));
  const storm = await killStorm(job, {
    kills: options.kills,
    seed: options.seed,
    maxGrowthBytes,
    maxWaitMs: options.maxWaitMs ?? 3000,
    firstKillAfterBytes: options.firstKillAfterBytes,
  });
  const finish = await runUntilDone(job, 6);
  const endings = [...storm.endings, ...finish.map(ending)];
  const problems: string[] = [];
  check(problems, finish.at(-1)?.code === 0, `the job did not complete after the storm (endings ${endings.join(' ')})`);
  const odd = endings.filter((e) => e !== 'SIGKILL' && e !== '0');
  check(problems, odd.length === 0, `runs ended with ${odd.join(', ')} (only SIGKILL and 0 expected)`);
  const after = options.firstKillAfterBytes ? ', first kill after the first commit' : '';
  return scenarioResult(
    `kill storm, concurrency ${options.concurrency}${after} (seed ${options.seed})`,
    job,
    expectFailures(ruleFailures(job), 'fatal'),
    {
      kills: storm.kills,
      endings,
      problems,
    },
  );
}
