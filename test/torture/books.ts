/**
 * Do the books balance after a torture scenario? Reads the ledger (a read-only handle on the SQLite
 * file, or the PostgreSQL schema through the Ledger interface), the output file and the handler's
 * call log, and counts what went wrong:
 *   - lost: a record with no outcome, or a succeeded record with no output line;
 *   - duplicated: a second outcome for a record, or a second output line;
 *   - redone: handler calls beyond the first for a record that began it afresh (first attempts: what
 *     a crash costs, not an error; a retry is not redone work);
 *   - innocent quarantines: records failed as `crashed` that the scenario did not make crash.
 * Every discrepancy is also described in `problems`, which a passing scenario leaves empty; so is a
 * rule failure (`failEvery`) stored without its error, and `status` or `failures` disagreeing.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { runCli } from '../helpers/cli.js';
import { collect } from '../helpers/sources.js';
import { rowsOf, withStoredLedger } from '../helpers/stored.js';
import { jobPaths, ledgerArgs, ruleFailures, type TortureJob } from './torture-job.js';

export interface Books {
  records: number;
  lost: number;
  duplicated: number;
  redone: number;
  innocentQuarantines: number;
  problems: string[];
}

/**
 * The records (by position) the scenario expects not to succeed: the kind each must fail with,
 * `*` for any kind but `crashed`, or `skipped`.
 */
export type ExpectedFailures = ReadonlyMap<number, string>;

function matches(outcome: Outcome, want: string | undefined): boolean {
  if (want === undefined) return outcome.status === 'succeeded';
  if (want === 'skipped') return outcome.status === 'skipped';
  return outcome.status === 'failed' && (want === '*' || outcome.kind === want);
}

interface Outcome {
  status: string;
  kind?: string;
  /** The stored error's message (a failure). */
  message?: string;
  /** The record's key (a stored row). */
  key?: string;
}

/** At most this many examples per kind of discrepancy go into `problems`. */
const EXAMPLES = 5;

/** The books of a finished job: every record read, every outcome checked against `expected`. */
export async function readBooks(job: TortureJob, expected: ExpectedFailures): Promise<Books> {
  const paths = jobPaths(job);
  const problems: string[] = [];
  const note = (what: string, ids: number[]): void => {
    if (ids.length > 0) problems.push(`${ids.length} ${what} (e.g. ${ids.slice(0, EXAMPLES).join(', ')})`);
  };

  const outcomes = await ledgerOutcomes(job, problems);
  const missing: number[] = [];
  const doubled: number[] = [];
  const wrong: number[] = [];
  const crashed: number[] = [];
  for (let id = 0; id < job.records; id++) {
    const found = outcomes[id] ?? [];
    if (found.length === 0) missing.push(id);
    if (found.length > 1) doubled.push(id);
    const outcome = found[0];
    if (!outcome) continue;
    const want = expected.get(id);
    if (outcome.kind === 'crashed' && want !== 'crashed') crashed.push(id);
    else if (!matches(outcome, want)) wrong.push(id);
  }
  note('records with no outcome', missing);
  note('records with more than one outcome', doubled);
  note('innocent records quarantined as crashed', crashed);
  for (const id of wrong.slice(0, EXAMPLES)) {
    const got = outcomes[id]?.[0];
    const want = expected.get(id);
    problems.push(
      `record ${id}: expected ${want === undefined ? 'succeeded' : want === 'skipped' ? 'skipped' : `failed/${want}`}, got ${got?.status}${got?.kind ? `/${got.kind}` : ''}`,
    );
  }
  if (wrong.length > EXAMPLES) problems.push(`… and ${wrong.length - EXAMPLES} more records with the wrong outcome`);
  const errorless = ruleFailures(job).filter((id) => {
    const outcome = outcomes[id]?.[0];
    return outcome?.kind === 'fatal' && outcome.message !== `record ${id} is bad`;
  });
  note('fatal records stored without their error', errorless);

  const succeeded = (id: number): boolean => outcomes[id]?.[0]?.status === 'succeeded';
  let outputLost = 0;
  let outputDuplicated = 0;
  if (paths.output) {
    const lines = readOutput(paths.output, problems);
    const seen = new Set<number>();
    const repeated: number[] = [];
    const stray: number[] = [];
    for (const id of lines) {
      if (seen.has(id)) repeated.push(id);
      seen.add(id);
      if (!succeeded(id)) stray.push(id);
    }
    const noLine: number[] = [];
    for (let id = 0; id < job.records; id++) if (succeeded(id) && !seen.has(id)) noLine.push(id);
    note('duplicated output lines', repeated);
    note('output lines for records that did not succeed', stray);
    note('succeeded records with no output line', noLine);
    outputLost = noLine.length;
    outputDuplicated = repeated.length;
  }

  const calls = readCalls(paths.calls);
  const called = new Set(calls);
  const phantom: number[] = [];
  for (let id = 0; id < job.records; id++) if (succeeded(id) && !called.has(id)) phantom.push(id);
  note('succeeded records whose handler was never called', phantom);

  await checkStatus(job, problems);
  await checkFailures(job, outcomes, problems);
  return {
    records: job.records,
    lost: missing.length + outputLost,
    duplicated: doubled.length + outputDuplicated,
    redone: [...redoneByRun(paths.calls).values()].reduce((sum, n) => sum + n, 0),
    innocentQuarantines: crashed.length,
    problems,
  };
}

/** Runs `read` on the job's ledger (read-only for a SQLite file), and closes it. */
export async function withJobLedger<T>(job: TortureJob, read: (ledger: Ledger) => Promise<T>): Promise<T> {
  const paths = jobPaths(job);
  if (job.pgSchema === undefined) return withStoredLedger(paths.ledger, read);
  const { ledger } = openLedger(paths.ledger, { job: job.name ?? 'torture', pgSchema: job.pgSchema });
  try {
    return await read(ledger);
  } finally {
    await ledger.close();
  }
}

/** Each record's outcomes, by its position in the source (seq; a record's id is its position). */
async function ledgerOutcomes(job: TortureJob, problems: string[]): Promise<Outcome[][]> {
  const outcomes: Outcome[][] = Array.from({ length: job.records }, () => []);
  const ledger = jobPaths(job).ledger;
  if (job.pgSchema === undefined && !existsSync(ledger)) {
    problems.push(`the ledger ${ledger} does not exist`);
    return outcomes;
  }
  try {
    const [ranges, rows] = await withJobLedger(
      job,
      async (opened) => [await collect(opened.succeededRanges()), await rowsOf(opened)] as const,
    );
    for (const { first, last } of ranges) {
      for (let seq = first; seq <= last; seq++) outcomes[seq]?.push({ status: 'succeeded' });
    }
    for (const row of rows) outcomes[row.seq]?.push({ status: row.status, kind: row.kind, message: row.error?.message, key: row.key });
  } catch (error) {
    problems.push(`cannot read the ledger: ${(error as Error).message}`);
  }
  return outcomes;
}

/** The ids on the output's lines; a line that is not a JSON object with an id is a problem (a torn write). */
function readOutput(path: string, problems: string[]): number[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) problems.push('the output file ends in a partial line');
  const ids: number[] = [];
  let torn = 0;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    try {
      ids.push((JSON.parse(line) as { id: number }).id);
    } catch {
      torn++;
    }
  }
  if (torn > 0) problems.push(`${torn} output lines are not JSON`);
  return ids;
}

/** One handler call, as calls.log has it. */
interface Call {
  pid: number;
  id: number;
  attempt: number;
}

function parseCalls(path: string): Call[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.includes(' '))
    .map((line) => {
      const [pid, id, attempt] = line.split(' ');
      return { pid: Number(pid), id: Number(id), attempt: Number(attempt ?? 1) };
    });
}

/** The record ids of every handler call, in order. */
export function readCalls(path: string): number[] {
  return parseCalls(path).map((call) => call.id);
}

/**
 * The records each run (by pid) began that a later run began again: the work its end cost. A record
 * begun in runs A, B and C was redone once because of A and once because of B. Only first
 * attempts count: a retry of a record that failed is not redone work.
 */
export function redoneByRun(path: string): Map<number, number> {
  const lastStart = new Map<number, number>();
  const redone = new Map<number, number>();
  for (const call of parseCalls(path)) {
    if (call.attempt !== 1) continue;
    const before = lastStart.get(call.id);
    if (before !== undefined) redone.set(before, (redone.get(before) ?? 0) + 1);
    lastStart.set(call.id, call.pid);
  }
  return redone;
}

/** batchguard's own view (`status --json`) must agree: every record read, none pending. */
async function checkStatus(job: TortureJob, problems: string[]): Promise<void> {
  const result = await runCli(['status', 'job.mjs', ...ledgerArgs(job), '--json'], { cwd: job.dir });
  if (result.code !== 0) {
    problems.push(`status exited ${result.code}: ${result.stderr.trim().split('\n')[0]}`);
    return;
  }
  const status = JSON.parse(result.stdout) as { total: number; pending: number; sourceExhausted: boolean };
  if (status.total !== job.records || status.pending !== 0 || !status.sourceExhausted) {
    problems.push(
      `status says total ${status.total}, pending ${status.pending}, source exhausted ${status.sourceExhausted}; expected ${job.records}, 0, true`,
    );
  }
}

/** `failures --format keys` must list exactly the failed and skipped records the ledger holds. */
async function checkFailures(job: TortureJob, outcomes: Outcome[][], problems: string[]): Promise<void> {
  const result = await runCli(['failures', 'job.mjs', ...ledgerArgs(job), '--format', 'keys'], { cwd: job.dir });
  if (result.code !== 0) {
    problems.push(`failures exited ${result.code}: ${result.stderr.trim().split('\n')[0]}`);
    return;
  }
  const listed = new Set(result.stdout.split('\n').filter((line) => line !== ''));
  const stored = outcomes.flat().flatMap((outcome) => (outcome.status === 'succeeded' || outcome.key === undefined ? [] : [outcome.key]));
  const unlisted = stored.filter((key) => !listed.has(key));
  const strays = [...listed].filter((key) => !stored.includes(key));
  if (unlisted.length > 0 || strays.length > 0) {
    problems.push(
      `failures lists ${listed.size} keys, the ledger holds ${stored.length} failed or skipped records (${unlisted.length} unlisted, e.g. ${unlisted.slice(0, EXAMPLES).join(', ')}; ${strays.length} not failed, e.g. ${strays.slice(0, EXAMPLES).join(', ')})`,
    );
  }
}
