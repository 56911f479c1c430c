/**
 * Huge error messages: the cost of a failure must stay bounded whatever the handler throws.
 *   - a 400 KB single-token message (no spaces: the worst case for masking) on 5 records;
 *   - 1 MB messages on 20 records.
 * The job must complete with exactly those records failed, each stored message cut with a visible
 * mark; the ledger and what the run printed stay within bounds (before the caps, 20 failures of
 * 1 MB made an 88 MB ledger and 22 MB of output). The run's time is a figure, not a check.
 */
import { existsSync, statSync } from 'node:fs';
import { spawnCli } from '../helpers/cli.js';
import { storedRows } from '../helpers/stored.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';
import { ending } from './storm.js';
import { runArgs, writeTortureJob, type TortureJob } from './torture-job.js';

export interface HugeMessageCase {
  name: string;
  /** Failing records. */
  failing: number;
  /** Module-level code defining MESSAGE. */
  message: string;
  /** Bounds on what the run stores and prints for all its failures, in bytes. */
  maxLedgerBytes: number;
  maxPrintedBytes: number;
}

export const HUGE_MESSAGE_CASES: HugeMessageCase[] = [
  {
    name: '400 KB single-token error message on 5 records',
    failing: 5,
    // Letters and digits with no separator: one token of 400,000 characters.
    message: "const MESSAGE = Array.from({ length: 400_000 }, (_, i) => 'abcdef0123456789xyz'[(i * 7) % 19]).join('');",
    maxLedgerBytes: 512 * 1024,
    maxPrintedBytes: 64 * 1024,
  },
  {
    name: '1 MB error messages on 20 records',
    failing: 20,
    message: "const MESSAGE = 'the upstream said: ' + 'lorem ipsum dolor sit amet '.repeat(40_000);",
    maxLedgerBytes: 1024 * 1024,
    maxPrintedBytes: 128 * 1024,
  },
];

const RECORDS = 200;
const GIVE_UP_MS = 120_000;

export async function hugeMessageScenario(dir: string, huge: HugeMessageCase): Promise<ScenarioResult> {
  // Every tenth record fails, so the failures are spread over the run, not bunched at its start.
  const failing = Array.from({ length: huge.failing }, (_, i) => i * 10 + 5);
  const job: TortureJob = {
    dir,
    records: RECORDS,
    concurrency: 4,
    delayMs: 0,
    prelude: huge.message,
    hostile: `if (${JSON.stringify(failing)}.includes(r.id)) throw new FatalError(MESSAGE);`,
  };
  const paths = writeTortureJob(job);
  const started = Date.now();
  const child = spawnCli(runArgs(job, '--json'), { cwd: dir });
  // Not a speed test: a bound that keeps the suite finite when masking is quadratic (minutes a record).
  const stuck = setTimeout(() => child.kill('SIGKILL'), GIVE_UP_MS);
  const run = await child.result;
  clearTimeout(stuck);
  const seconds = (Date.now() - started) / 1000;
  const ledgerBytes = ['', '-wal', '.keys']
    .map((suffix) => `${paths.ledger}${suffix}`)
    .filter(existsSync)
    .reduce((sum, file) => sum + statSync(file).size, 0);
  const printedBytes = run.stdout.length + run.stderr.length;
  const problems: string[] = [];
  check(problems, run.signal === null, `the run did not finish in ${GIVE_UP_MS / 1000} s`);
  check(problems, run.code === 0, `the run ended with ${ending(run)}, expected 0 (stderr ${run.stderr.slice(-300)})`);
  check(problems, ledgerBytes <= huge.maxLedgerBytes, `the ledger holds ${ledgerBytes} bytes, more than ${huge.maxLedgerBytes}`);
  const marked = existsSync(paths.ledger)
    ? (await storedRows(paths.ledger)).filter((row) => row.status === 'failed' && JSON.stringify(row.error).includes('[truncated')).length
    : 0;
  check(problems, marked === failing.length, `${marked} of the ${failing.length} stored failures carry a truncation mark`);
  check(problems, printedBytes <= huge.maxPrintedBytes, `the run printed ${printedBytes} bytes, more than ${huge.maxPrintedBytes}`);
  return scenarioResult(huge.name, job, expectFailures(failing, 'fatal'), {
    endings: [ending(run)],
    problems,
    note: `run ${seconds.toFixed(1)} s, ledger ${(ledgerBytes / 1e6).toFixed(2)} MB, printed ${(printedBytes / 1e3).toFixed(0)} KB`,
  });
}
