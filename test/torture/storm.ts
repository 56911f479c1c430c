/**
 * Runs of a torture job through the real CLI (built dist/): a kill storm (start, wait a random
 * while, SIGKILL, again) and "run until done" (resume until a run ends with a verdict).
 */
import { existsSync, statSync } from 'node:fs';
import { spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { seededInts } from '../helpers/random.js';
import { jobPaths, runArgs, type TortureJob } from './torture-job.js';

/** How a run ended, as the table shows it: the exit code, or the signal that killed it. */
export const ending = (result: CliResult): string => (result.signal ? result.signal : String(result.code));

export interface StormOptions {
  kills: number;
  seed: number;
  /** A kill lands after calls.log grew by a random 0 … this many bytes (~12 bytes a call) … */
  maxGrowthBytes: number;
  /** … or a random 0 … this many ms after its first call, whichever comes first (crash recovery may be slow). */
  maxWaitMs: number;
  env?: Record<string, string>;
  /**
   * The first run is not killed before its call log has this many bytes (about 12 a call): past
   * its first group commit. @default 0 (a kill may land anywhere)
   */
  firstKillAfterBytes?: number;
  /**
   * Every other kill, the first included, lands a random 0 … this many ms after its run was spawned
   * instead: in the run's start (loading, opening the ledger, taking the lease, crash recovery) as
   * often as in its work. @default none (every kill counts from the run's first handler call)
   */
  fromSpawnMs?: number;
  /**
   * Each run starts at most this many records (`--max-records`) and then ends by itself (exit 5),
   * so that kills land in runs' ends (the last commit, the run's end) too; such an end does not end
   * the storm. @default no limit
   */
  maxRecordsPerRun?: number;
}

export interface StormResult {
  /** The SIGKILLs that landed on a live run. */
  kills: number;
  endings: string[];
}

const fileSize = (path: string): number => (existsSync(path) ? statSync(path).size : 0);

/**
 * SIGKILLs the job `kills` times at random moments. Stops early when a run ends by itself before
 * its kill (the job is done, or a run refuses to go on: the scenario reports that).
 */
export async function killStorm(job: TortureJob, options: StormOptions): Promise<StormResult> {
  const random = seededInts(options.seed);
  const calls = jobPaths(job).calls;
  const endings: string[] = [];
  let kills = 0;
  while (kills < options.kills) {
    const limit = options.maxRecordsPerRun === undefined ? [] : ['--max-records', String(options.maxRecordsPerRun)];
    const child = spawnCli(runArgs(job, '--quiet', ...limit), { cwd: job.dir, env: options.env });
    const before = fileSize(calls);
    const growth = random(options.maxGrowthBytes + 1);
    const wait = random(options.maxWaitMs + 1);
    if (options.fromSpawnMs !== undefined && kills % 2 === 0) {
      const deadline = Date.now() + random(options.fromSpawnMs + 1);
      await waitFor(() => Date.now() > deadline || child.exitCode !== null, options.fromSpawnMs + 60_000);
    } else {
      // The random moment counts from the run's first handler call, not from its start: before that
      // it may wait for the killed run's lease to expire, and a storm of kills there would test little.
      const armed = before + (kills === 0 ? (options.firstKillAfterBytes ?? 0) : 0);
      await waitFor(() => fileSize(calls) > armed || child.exitCode !== null, 120_000);
      const deadline = Date.now() + wait;
      await waitFor(
        () => fileSize(calls) > before + growth || Date.now() > deadline || child.exitCode !== null,
        options.maxWaitMs + 60_000,
      );
    }
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      kills++;
    }
    const result = await child.result;
    endings.push(ending(result));
    // A run that ended by itself (done, or refusing to go on) ends the storm: `runUntilDone` follows.
    if (!result.signal && !(limit.length > 0 && result.code === 5)) break;
  }
  return { kills, endings };
}

/**
 * Runs the job until a run ends with a verdict (exit 0 or 1), at most `limit` runs; returns every
 * run's result. A run that dies or stops (a crash, exit 4, a hostile handler) is followed by another.
 */
export async function runUntilDone(
  job: TortureJob,
  limit: number,
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<CliResult[]> {
  const results: CliResult[] = [];
  while (results.length < limit) {
    const result = await spawnCli(runArgs(job, '--json', ...(options.args ?? [])), { cwd: job.dir, env: options.env }).result;
    results.push(result);
    if (!result.signal && (result.code === 0 || result.code === 1)) break;
  }
  return results;
}

/** The summary a `--json` run printed, or undefined when it printed none. */
export function summaryOf(
  result: CliResult,
): { status: string; total: number; succeeded: number; failed: number; pending: number } | undefined {
  try {
    return JSON.parse(result.stdout);
  } catch {
    return undefined;
  }
}
