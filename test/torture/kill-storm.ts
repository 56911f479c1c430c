/**
 * Kill storms: a job with failing records (and by default a jsonlOutput sink) is SIGKILLed at
 * random moments, then resumed until done. Every record must end with exactly one outcome (the
 * failing ones `fatal` with their error, none `crashed`), the output must hold exactly one line per
 * succeeded record, and each run's death may cost at most one checkpoint batch plus the records in
 * flight (semantics.md). The ledger is a SQLite file or a schema of the test PostgreSQL.
 */
import { inFreshPgSchema } from './postgres-schema.js';
import { redoneByRun } from './books.js';
import { jobPaths, ruleFailures, writeTortureJob, type TortureJob } from './torture-job.js';
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
  /** Where the ledger is: a SQLite file in `dir`, or a fresh schema of the test PostgreSQL (dropped after). @default 'sqlite' */
  ledger?: 'sqlite' | 'postgres';
  /** Whether the job writes a jsonlOutput. @default true */
  output?: boolean;
  /**
   * A PostgreSQL job with no output: each run joins the job's shared run as a worker (docs/workers.md)
   * rather than running as one process (`--no-worker`). @default false
   */
  worker?: boolean;
  /** See TortureJob.transientEvery. @default none */
  transientEvery?: number;
  /** See StormOptions.fromSpawnMs. @default none */
  fromSpawnMs?: number;
  /** See StormOptions.maxRecordsPerRun. @default no limit */
  maxRecordsPerRun?: number;
  /** Looks at what the storm left, before the runs that finish the job. @default none */
  afterStorm?: (job: TortureJob) => Promise<void>;
}

/** About what one handler call adds to calls.log (`<pid> <id> <attempt>\n`). */
export const CALL_LOG_BYTES = 14;

const CHECKPOINT = { everyRecords: 200, everyMs: 100 };
/** In flight: the record running in each slot, and up to four per slot waiting for their retry (semantics.md). */
const IN_FLIGHT_PER_SLOT = 5;

/**
 * A PostgreSQL job with no output runs as one process (`--no-worker`) or as a worker with a 3 s
 * lease: a killed worker's chunks are taken over once their lease expired, not at once.
 */
function runFlags(shareable: boolean, worker: boolean): string[] | undefined {
  if (!shareable) return undefined;
  return worker ? ['--lease', '3s'] : ['--no-worker'];
}

export async function killStormScenario(options: KillStormOptions): Promise<ScenarioResult> {
  if (options.ledger !== 'postgres') return storm(options, undefined);
  return inFreshPgSchema((schema) => storm(options, schema));
}

async function storm(options: KillStormOptions, pgSchema: string | undefined): Promise<ScenarioResult> {
  const output = options.output ?? true;
  const job: TortureJob = {
    dir: options.dir,
    records: options.records,
    concurrency: options.concurrency,
    failEvery: 97,
    transientEvery: options.transientEvery,
    delayMs: options.delayMs ?? 1,
    checkpoint: CHECKPOINT,
    output: output ? undefined : false,
    pgSchema,
    flags: runFlags(pgSchema !== undefined && !output, options.worker ?? false),
  };
  writeTortureJob(job);
  // On average a run gets 1 / (kills + 2) of the records before its kill, so the kills all land.
  const maxGrowthBytes = Math.floor((2 * CALL_LOG_BYTES * options.records) / (options.kills + 2));
  const started = Date.now();
  const storm = await killStorm(job, {
    kills: options.kills,
    seed: options.seed,
    maxGrowthBytes,
    maxWaitMs: options.maxWaitMs ?? 3000,
    firstKillAfterBytes: options.firstKillAfterBytes,
    fromSpawnMs: options.fromSpawnMs,
    maxRecordsPerRun: options.maxRecordsPerRun,
  });
  await options.afterStorm?.(job);
  const finish = await runUntilDone(job, 6);
  const seconds = (Date.now() - started) / 1000;
  const endings = [...storm.endings, ...finish.map(ending)];
  const problems: string[] = [];
  check(problems, finish.at(-1)?.code === 0, `the job did not complete after the storm (endings ${endings.join(' ')})`);
  const expected = options.maxRecordsPerRun === undefined ? ['SIGKILL', '0'] : ['SIGKILL', '0', '5'];
  const odd = endings.filter((e) => !expected.includes(e));
  check(problems, odd.length === 0, `runs ended with ${odd.join(', ')} (only ${expected.join(', ')} expected)`);
  const bound = CHECKPOINT.everyRecords + IN_FLIGHT_PER_SLOT * options.concurrency;
  const worst = Math.max(0, ...redoneByRun(jobPaths(job).calls).values());
  check(problems, worst <= bound, `a run's end cost ${worst} redone records, more than one batch and the records in flight (${bound})`);
  const where = [
    pgSchema === undefined ? '' : ', PostgreSQL',
    output ? '' : options.worker ? ', no output, as a worker' : ', no output',
    options.transientEvery ? `, 1 in ${options.transientEvery} failing once` : '',
  ].join('');
  const after = [
    options.firstKillAfterBytes ? ', first kill after the first commit' : '',
    options.fromSpawnMs ? `, every other kill 0–${options.fromSpawnMs} ms after the spawn` : '',
    options.maxRecordsPerRun ? `, runs of ${options.maxRecordsPerRun} records` : '',
  ].join('');
  return scenarioResult(
    `kill storm${where}, concurrency ${options.concurrency}${after} (seed ${options.seed})`,
    job,
    expectFailures(ruleFailures(job), 'fatal'),
    {
      kills: storm.kills,
      endings,
      problems,
      note: `most redone by one run ${worst} (bound ${bound}); ${seconds.toFixed(0)} s`,
    },
  );
}
