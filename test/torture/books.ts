/**
 * Do the books balance after a torture scenario? Reads the ledger file itself (not through
 * batchguard), the output file and the handler's call log, and counts what went wrong:
 *   - lost: a record with no outcome, or a succeeded record with no output line;
 *   - duplicated: a second outcome for a record, or a second output line;
 *   - redone: handler calls beyond the first for a record (what a crash costs, not an error);
 *   - innocent quarantines: records failed as `crashed` that the scenario did not make crash.
 * Every discrepancy is also described in `problems`, which a passing scenario leaves empty.
 */
import { existsSync, readFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.js';
import { storedRanges, storedRows } from '../helpers/stored.js';
import { jobPaths, type TortureJob } from './torture-job.js';

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

  const outcomes = await ledgerOutcomes(paths.ledger, job.records, problems);
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
  return {
    records: job.records,
    lost: missing.length + outputLost,
    duplicated: doubled.length + outputDuplicated,
    redone: calls.length - called.size,
    innocentQuarantines: crashed.length,
    problems,
  };
}

/** Each record's outcomes, by its position in the source (seq; a record's id is its position). */
async function ledgerOutcomes(ledger: string, records: number, problems: string[]): Promise<Outcome[][]> {
  const outcomes: Outcome[][] = Array.from({ length: records }, () => []);
  if (!existsSync(ledger)) {
    problems.push(`the ledger ${ledger} does not exist`);
    return outcomes;
  }
  try {
    for (const { first, last } of await storedRanges(ledger)) {
      for (let seq = first; seq <= last; seq++) outcomes[seq]?.push({ status: 'succeeded' });
    }
    for (const row of await storedRows(ledger)) outcomes[row.seq]?.push({ status: row.status, kind: row.kind });
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

/** The record ids of every handler call, in order. */
export function readCalls(path: string): number[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.includes(' '))
    .map((line) => Number(line.split(' ')[1]));
}

/** batchguard's own view (`status --json`) must agree: every record read, none pending. */
async function checkStatus(job: TortureJob, problems: string[]): Promise<void> {
  const paths = jobPaths(job);
  const result = await runCli(['status', 'job.mjs', '--ledger', paths.ledger, '--json'], { cwd: job.dir });
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
