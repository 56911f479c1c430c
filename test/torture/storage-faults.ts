/**
 * Storage faults: the disk fills up under the ledger or the output, the ledger's pages are damaged,
 * the ledger is truncated, emptied or deleted while a run uses it. A storage fault must stop the run
 * with exit code 4 and a one-line cause, damage nothing, and (once the fault is repaired) the job
 * must resume exactly.
 */
import { copyFileSync, existsSync, rmSync, statfsSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnCli, waitFor, type CliResult } from '../helpers/cli.js';
import { readLedger } from '../helpers/ledger.js';
import { fileHash, flipLeafPageHeaders, mountTmpfs } from './faults.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';
import { ending, runUntilDone } from './storm.js';
import { jobPaths, ruleFailures, runArgs, writeTortureJob, type TortureJob } from './torture-job.js';

/**
 * A problem unless the run was refused the way a storage fault should be: exit 4 and one line
 * `batchguard: error: …` on stderr, no stack trace.
 */
export function refusedAsStorageFault(what: string, result: CliResult | undefined): string | undefined {
  if (!result) return `${what}: no run`;
  const errors = result.stderr.split('\n').filter((line) => line.startsWith('batchguard: error:'));
  const stack = /\n\s+at /.test(result.stderr);
  if (ending(result) === '4' && errors.length === 1 && !stack) return undefined;
  const first = result.stderr.trim().split('\n').slice(-3).join(' / ').slice(0, 300);
  return `${what}: ended with ${ending(result)}${stack ? ', with a stack trace' : ''}, ${errors.length} error lines, expected exit 4 with one error line (stderr: ${first})`;
}

/** A problem unless the SQLite file at `path` passes `PRAGMA integrity_check` (raw SQLite on purpose: the file's own check). */
function integrityProblem(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  try {
    const verdict = readLedger(path, (db) => db.pragma('integrity_check', { simple: true }));
    return verdict === 'ok' ? undefined : `the ledger fails its integrity check: ${String(verdict)}`;
  } catch (error) {
    return `the ledger cannot be checked: ${(error as Error).message}`;
  }
}

export type FullDisk = 'ledger' | 'output' | 'ledger and output';

/**
 * The disk under the ledger, the output or both is a 2 MB tmpfs, with `headroomBytes` left free by a
 * filler file: the run hits ENOSPC (at once with no headroom, mid-run otherwise). Then the tmpfs is
 * grown and the job must resume to an exact finish.
 */
export async function diskFullScenario(
  dir: string,
  options: { where: FullDisk; headroomBytes: number; records: number },
): Promise<ScenarioResult> {
  const disk = join(dir, 'disk');
  const tmpfs = mountTmpfs(disk, '2m');
  try {
    const onDisk = (where: 'ledger' | 'output') => options.where.includes(where);
    const job: TortureJob = {
      dir,
      records: options.records,
      concurrency: 8,
      failEvery: 97,
      delayMs: 0,
      ledger: onDisk('ledger') ? join(disk, 'ledger', 'torture.sqlite') : undefined,
      output: onDisk('output') ? join(disk, 'out', 'results.jsonl') : undefined,
    };
    writeTortureJob(job);
    writeFileSync(join(disk, 'filler'), Buffer.alloc(Math.max(0, freeBytes(disk) - options.headroomBytes)));
    const problems: string[] = [];
    const full = await spawnCli(runArgs(job, '--json'), { cwd: dir }).result;
    const refused = refusedAsStorageFault('on a full disk', full);
    if (refused) problems.push(refused);
    const damage = integrityProblem(jobPaths(job).ledger);
    if (damage) problems.push(`after the full disk, ${damage}`);
    tmpfs.resize('256m');
    const resumed = await runUntilDone(job, 4);
    check(
      problems,
      resumed.at(-1)?.code === 0,
      `after space was freed the job did not complete (runs ended ${resumed.map(ending).join(' ')})`,
    );
    return await scenarioResult(
      `disk full under the ${options.where} (${Math.round(options.headroomBytes / 1024)} KB left)`,
      job,
      expectFailures(ruleFailures(job), 'fatal'),
      {
        endings: [ending(full), ...resumed.map(ending)],
        problems,
      },
    );
  } finally {
    tmpfs.unmount();
  }
}

/** Free bytes on the filesystem holding `path`. */
function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}

export type LedgerDamage = 'with damaged pages' | 'truncated to half' | 'emptied (0 bytes)';

/**
 * A job stopped half-way (`--max-records`) has its ledger damaged; the next run must refuse with
 * exit 4, touching neither the ledger nor the output. With the ledger restored from a copy taken
 * before the damage, the job resumes to an exact finish.
 */
export async function damagedLedgerScenario(dir: string, damage: LedgerDamage): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: 3000, concurrency: 8, failEvery: 97, delayMs: 0 };
  const paths = writeTortureJob(job);
  const problems: string[] = [];
  const half = await spawnCli(runArgs(job, '--max-records', '1500'), { cwd: dir }).result;
  check(problems, half.code === 5, `the half-way run ended with ${ending(half)}, expected 5`);
  const saved = [paths.ledger, `${paths.ledger}.keys`].filter(existsSync);
  for (const file of saved) copyFileSync(file, `${file}.copy`);

  if (damage === 'with damaged pages') flipLeafPageHeaders(paths.ledger, ['records', 'records_key']);
  else if (damage === 'truncated to half') truncateSync(paths.ledger, Math.floor(statSync(paths.ledger).size / 2));
  else truncateSync(paths.ledger, 0);

  const before = { ledger: fileHash(paths.ledger), output: fileHash(paths.output ?? ''), calls: fileHash(paths.calls) };
  const damaged = await spawnCli(runArgs(job, '--json'), { cwd: dir }).result;
  const refused = refusedAsStorageFault(`a ledger ${damage}`, damaged);
  if (refused) problems.push(refused);
  check(problems, fileHash(paths.ledger) === before.ledger, 'the refused run changed the damaged ledger file');
  check(problems, fileHash(paths.output ?? '') === before.output, 'the refused run changed the output file');
  check(problems, fileHash(paths.calls) === before.calls, 'the refused run called the handler');

  for (const file of saved) copyFileSync(`${file}.copy`, file);
  for (const side of ['-wal', '-shm']) rmSync(`${paths.ledger}${side}`, { force: true });
  const resumed = await runUntilDone(job, 4);
  check(
    problems,
    resumed.at(-1)?.code === 0,
    `with the ledger restored the job did not complete (runs ended ${resumed.map(ending).join(' ')})`,
  );
  return scenarioResult(`ledger ${damage}`, job, expectFailures(ruleFailures(job), 'fatal'), {
    endings: [ending(half), ending(damaged), ...resumed.map(ending)],
    problems,
  });
}

/**
 * The ledger file is deleted while a run uses it: the run must not report that it completed (it
 * would be a success written nowhere). How the next run behaves is reported as a figure.
 */
export async function deletedLedgerScenario(dir: string): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: 20_000, concurrency: 8, failEvery: 97, delayMs: 1 };
  const paths = writeTortureJob(job);
  const problems: string[] = [];
  const child = spawnCli(runArgs(job, '--json'), { cwd: dir });
  await waitFor(() => (existsSync(paths.calls) ? statSync(paths.calls).size : 0) > 12 * 3000 || child.exitCode !== null, 60_000);
  rmSync(paths.ledger);
  const during = await child.result;
  check(problems, ending(during) === '4', `the run whose ledger was deleted ended with ${ending(during)}, expected 4`);
  check(problems, !during.stdout.includes('"completed"'), 'the run whose ledger was deleted reported "completed"');
  const next = await spawnCli(runArgs(job, '--json'), { cwd: dir }).result;
  return {
    scenario: 'ledger deleted mid-run',
    kills: 0,
    records: job.records,
    lost: 0,
    duplicated: 0,
    redone: 0,
    innocentQuarantines: 0,
    booksRead: false,
    endings: [ending(during), ending(next)],
    problems,
    note: `next run: ${ending(next)}`,
  };
}
