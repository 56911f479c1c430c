/**
 * What a torture scenario reports: the figures of one row of the table in docs/reliability.md, and
 * the problems found (empty when the scenario held). The CI tests assert `problems` is empty; the
 * long suite prints both.
 */
import { readBooks, type Books, type ExpectedFailures } from './books.js';
import type { TortureJob } from './torture-job.js';

export interface ScenarioResult extends Omit<Books, 'problems'> {
  scenario: string;
  kills: number;
  /** How each run ended: exit codes and signals, in order. */
  endings: string[];
  problems: string[];
  /** A figure particular to the scenario (a duration, a size). */
  note?: string;
  /** False when the scenario leaves no books to read (its ledger is gone): the counts mean nothing. */
  booksRead: boolean;
}

/** Reads the books of `job` and assembles the scenario's result. */
export async function scenarioResult(
  scenario: string,
  job: TortureJob,
  expected: ExpectedFailures,
  run: { kills?: number; endings: string[]; problems?: string[]; note?: string },
): Promise<ScenarioResult> {
  const books = await readBooks(job, expected);
  return {
    scenario,
    kills: run.kills ?? 0,
    endings: run.endings,
    note: run.note,
    booksRead: true,
    ...books,
    problems: [...(run.problems ?? []), ...books.problems],
  };
}

/** Records each failing id with the same expected kind. */
export function expectFailures(ids: readonly number[], kind: string, into = new Map<number, string>()): Map<number, string> {
  for (const id of ids) into.set(id, kind);
  return into;
}

/** A problem when `condition` is false. */
export function check(problems: string[], condition: boolean, problem: string): void {
  if (!condition) problems.push(problem);
}
