/**
 * Leases: one run at a time, and a holder that is gone or frozen does not lock the job out.
 *   - A run SIGKILLed as PID 1 of a PID namespace (a container) is taken over by the next run, also
 *     PID 1 in a new namespace (optionally under another host name: a rescheduled pod), within the
 *     lease's expiry.
 *   - A SIGSTOPped holder is taken over; after SIGCONT it must stop with exit 4 writing nothing.
 * In both, the books must balance once the job is done.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { fileHash, ledgerContentHash, pidNamespace } from './faults.js';
import { pgContentHash } from './postgres-schema.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';
import { refusedAsStorageFault } from './storage-faults.js';
import { ending } from './storm.js';
import { jobPaths, ruleFailures, runArgs, writeTortureJob, type TortureJob } from './torture-job.js';

export interface LeaseOptions {
  /** The lease expiry the runs use (what `args` set, or the default). */
  expiryMs: number;
  /** Extra `run` flags for every run (e.g. `--lease 2s`). */
  args?: string[];
  env?: Record<string, string>;
  /** Extra `run` flags for the run that takes over (e.g. `--take-over`). */
  takeOverArgs?: string[];
  records?: number;
  /** A schema of the test PostgreSQL for the ledger, instead of a SQLite file (the caller drops it). @default none */
  pgSchema?: string;
}

/**
 * The lease settings the scenarios use: the default expiry, and taking over at once with
 * `--take-over`.
 */
export const LEASE: { defaults: LeaseOptions; short: LeaseOptions; takeOver: LeaseOptions } = {
  defaults: { expiryMs: 15_000 },
  short: { expiryMs: 3_000, args: ['--lease', '3s'] },
  takeOver: { expiryMs: 0, takeOverArgs: ['--take-over'] },
};

/** Startup, a loaded machine: how much later than the expiry a takeover may come. */
const SLACK_MS = 20_000;

const size = (path: string): number => (existsSync(path) ? statSync(path).size : 0);
/** Handler calls so far (lines of calls.log; a PID namespace's pids are short, so bytes would mislead). */
const callCount = (path: string): number => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0);
const isHeld = (result: CliResult): boolean => result.code === 4 && /\bheld\b|lease/i.test(result.stderr);

/**
 * Starts runs (each through `wrap`) until one is not refused because the ledger is held, for at most
 * `expiryMs + SLACK_MS`; that run goes to its end. Returns every run and when the first handler
 * call after `since` was logged (the takeover), or undefined if no run took over in time.
 */
async function takeOver(
  job: TortureJob,
  options: LeaseOptions,
  since: number,
  wrap: string[] | undefined,
): Promise<{ runs: CliResult[]; takeoverMs: number | undefined }> {
  const calls = jobPaths(job).calls;
  const before = size(calls);
  let tookOverAt: number | undefined;
  const watch = setInterval(() => {
    if (tookOverAt === undefined && size(calls) > before) tookOverAt = Date.now();
  }, 20);
  const runs: CliResult[] = [];
  try {
    while (Date.now() - since < options.expiryMs + SLACK_MS) {
      const result = await spawnCli(runArgs(job, '--json', ...(options.args ?? []), ...(options.takeOverArgs ?? [])), {
        cwd: job.dir,
        env: options.env,
        wrap,
      }).result;
      runs.push(result);
      if (!isHeld(result)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  } finally {
    clearInterval(watch);
  }
  return { runs, takeoverMs: tookOverAt === undefined ? undefined : tookOverAt - since };
}

/** Runs the job (through `wrap`) until a run exits 0 or 1. */
async function finish(job: TortureJob, options: LeaseOptions, wrap: string[] | undefined, runs: CliResult[]): Promise<void> {
  while (runs.length < 8) {
    const last = runs.at(-1);
    if (last && !last.signal && (last.code === 0 || last.code === 1)) return;
    runs.push(await spawnCli(runArgs(job, '--json', ...(options.args ?? [])), { cwd: job.dir, env: options.env, wrap }).result);
  }
}

/** SIGKILL a run that is PID 1 of its namespace; the next run (PID 1 of another) must take over in time. */
export async function pidNamespaceScenario(dir: string, options: LeaseOptions & { hostname?: string }): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: options.records ?? 3000, concurrency: 8, failEvery: 97, delayMs: 2 };
  const paths = writeTortureJob(job);
  const problems: string[] = [];
  const first = spawnCli(runArgs(job, '--quiet', ...(options.args ?? [])), {
    cwd: dir,
    env: options.env,
    wrap: pidNamespace(options.hostname ? `${options.hostname}-a` : undefined),
  });
  await waitFor(() => callCount(paths.calls) >= job.records / 4 || first.exitCode !== null, 60_000);
  check(problems, first.exitCode === null, 'the first run ended before its kill');
  first.kill('SIGKILL'); // unshare --kill-child passes the SIGKILL to the namespace's PID 1
  const killed = await first.result;
  const killedAt = Date.now();
  const wrap = pidNamespace(options.hostname ? `${options.hostname}-b` : undefined);
  const { runs, takeoverMs } = await takeOver(job, options, killedAt, wrap);
  check(
    problems,
    takeoverMs !== undefined && takeoverMs <= options.expiryMs + SLACK_MS,
    `the next run did not take over within the lease expiry (${options.expiryMs} ms + ${SLACK_MS} ms slack): ${runs.length} runs, last stderr: ${runs.at(-1)?.stderr.trim().split('\n').at(-1)}`,
  );
  await finish(job, options, wrap, runs);
  check(problems, runs.at(-1)?.code === 0, `the job did not complete (runs ended ${runs.map(ending).join(' ')})`);
  return scenarioResult(
    `SIGKILLed PID 1 in a PID namespace${options.hostname ? ', next run on another host name' : ''}`,
    job,
    expectFailures(ruleFailures(job), 'fatal'),
    {
      kills: 1,
      endings: [ending(killed), ...runs.map(ending)],
      problems,
      note: takeoverMs === undefined ? 'no takeover' : `taken over after ${(takeoverMs / 1000).toFixed(1)} s`,
    },
  );
}

/** Offset of SQLite's WAL write lock in the `-shm` file. */
const WAL_WRITE_LOCK = 120;

/** Whether process `pid` holds the SQLite WAL write lock of `ledger` (is inside a commit), from /proc/locks. */
function holdsWriteLock(pid: number, ledger: string): boolean {
  const shm = `${ledger}-shm`;
  if (!existsSync(shm)) return false;
  const inode = statSync(shm).ino;
  return readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[3] === 'WRITE' && Number(fields[4]) === pid && fields[5]?.endsWith(`:${inode}`) && Number(fields[6]) === WAL_WRITE_LOCK;
    });
}

/**
 * SIGSTOPs `holder` at a moment when it is inside a commit (holds SQLite's write lock) or, with
 * `inCommit` false, outside one: stops, looks, continues and tries again a few ms later until the
 * moment is right. Returns how many stops were undone.
 */
async function stopHolder(holder: ChildProcess, ledger: string, inCommit: boolean): Promise<number> {
  for (let restops = 0; ; restops++) {
    holder.kill('SIGSTOP');
    if (holdsWriteLock(holder.pid as number, ledger) === inCommit || restops >= 5000 || holder.exitCode !== null) return restops;
    holder.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 1 + (restops % 7)));
  }
}

/**
 * SIGSTOP the holder (over SQLite never inside a commit: a process frozen holding SQLite's write
 * lock blocks every writer until it continues, whatever the lease says; over PostgreSQL anywhere,
 * since the server ends a transaction left idle for a lease time), take over, finish the job, then
 * SIGCONT the holder: it must exit 4 and change neither the ledger nor the output.
 */
export async function stoppedHolderScenario(dir: string, options: LeaseOptions): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: options.records ?? 3000, concurrency: 8, failEvery: 97, delayMs: 2, pgSchema: options.pgSchema };
  const paths = writeTortureJob(job);
  const problems: string[] = [];
  const contentHash = (): Promise<string> | string =>
    options.pgSchema === undefined ? ledgerContentHash(paths.ledger) : pgContentHash(options.pgSchema);
  const holder = spawnCli(runArgs(job, '--json', ...(options.args ?? [])), { cwd: dir, env: options.env });
  await waitFor(() => callCount(paths.calls) >= job.records / 4 || holder.exitCode !== null, 60_000);
  check(problems, holder.exitCode === null, 'the holder ended before it was stopped');
  let restops = 0;
  if (options.pgSchema === undefined) restops = await stopHolder(holder, paths.ledger, false);
  else holder.kill('SIGSTOP');
  const stoppedAt = Date.now();
  const { runs, takeoverMs } = await takeOver(job, options, stoppedAt, undefined);
  check(
    problems,
    takeoverMs !== undefined && takeoverMs <= options.expiryMs + SLACK_MS,
    `no run took over from the stopped holder within the lease expiry (${options.expiryMs} ms + ${SLACK_MS} ms slack): ${runs.length} runs, last stderr: ${runs.at(-1)?.stderr.trim().split('\n').at(-1)}`,
  );
  await finish(job, options, undefined, runs);
  check(problems, runs.at(-1)?.code === 0, `the job did not complete (runs ended ${runs.map(ending).join(' ')})`);

  const before = { ledger: await contentHash(), output: fileHash(paths.output ?? '') };
  holder.kill('SIGCONT');
  // A woken holder that does not notice it lost the lease may run on: it gets a minute.
  const hang = setTimeout(() => holder.kill('SIGKILL'), 60_000);
  const woken = await holder.result;
  clearTimeout(hang);
  const refused = refusedAsStorageFault('the holder woken after losing its lease', woken);
  if (refused) problems.push(refused);
  check(problems, (await contentHash()) === before.ledger, 'the woken holder wrote to the ledger');
  check(problems, fileHash(paths.output ?? '') === before.output, 'the woken holder wrote to the output');
  return scenarioResult(
    `SIGSTOPped holder${options.pgSchema === undefined ? '' : ' over PostgreSQL'}${options.takeOverArgs?.length ? ` (${options.takeOverArgs.join(' ')})` : ''}, SIGCONT after the takeover`,
    job,
    expectFailures(ruleFailures(job), 'fatal'),
    {
      endings: [...runs.map(ending), `${ending(woken)} (woken holder)`],
      problems,
      note: `${takeoverMs === undefined ? 'no takeover' : `taken over after ${(takeoverMs / 1000).toFixed(1)} s`}${restops > 0 ? `; stopped again ${restops}× to miss a commit` : ''}`,
    },
  );
}

/**
 * The holder frozen inside a commit, holding SQLite's write lock: no other run can write, whatever
 * the lease says, so `run --take-over` must be refused with exit 4 and one line (not hang, not
 * crash). Once the holder continues, it goes on (its lease was never taken) and the job finishes
 * exactly. Should the takeover succeed after all, the woken holder must stop with exit 4.
 */
export async function frozenInCommitScenario(dir: string): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: 4000, concurrency: 8, failEvery: 97, delayMs: 2, checkpoint: { everyRecords: 50, everyMs: 20 } };
  const paths = writeTortureJob(job);
  const problems: string[] = [];
  const holder = spawnCli(runArgs(job, '--json'), { cwd: dir });
  await waitFor(() => callCount(paths.calls) >= job.records / 8 || holder.exitCode !== null, 60_000);
  const tries = await stopHolder(holder, paths.ledger, true);
  const frozen = holdsWriteLock(holder.pid as number, paths.ledger);
  check(problems, frozen, `could not stop the holder inside a commit in ${tries} tries`);
  const taker = await spawnCli(runArgs(job, '--json', '--take-over'), { cwd: dir }).result;
  holder.kill('SIGCONT');
  const woken = await holder.result;
  const [takerEnd, holderEnd] = [ending(taker), ending(woken)];
  if (takerEnd === '4') {
    const refused = refusedAsStorageFault('the takeover of a holder frozen in a commit', taker);
    if (refused) problems.push(refused);
    check(problems, holderEnd === '0', `the holder, continued after a refused takeover, ended with ${holderEnd}, expected 0`);
  } else {
    check(
      problems,
      takerEnd === '0' && holderEnd === '4',
      `takeover ended ${takerEnd}, the continued holder ${holderEnd}: expected 4 and 0, or 0 and 4`,
    );
  }
  const runs = [woken];
  await finish(job, { expiryMs: 0 }, undefined, runs);
  return scenarioResult('holder SIGSTOPped inside a commit, run --take-over', job, expectFailures(ruleFailures(job), 'fatal'), {
    endings: [`${takerEnd} (taker)`, `${holderEnd} (holder)`, ...runs.slice(1).map(ending)],
    problems,
    note: `frozen in a commit after ${tries} tries`,
  });
}
