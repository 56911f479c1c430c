/**
 * Hostile handlers: code that tries to get around the engine's promise that nothing a handler does
 * escapes it. Each case runs a small job (with its own failing records and an output sink) until
 * done and checks how the runs ended and that the books balance.
 */
import { readCalls } from './books.js';
import { jobPaths, ruleFailures, writeTortureJob, type TortureJob } from './torture-job.js';
import { ending, runUntilDone } from './storm.js';
import { check, expectFailures, scenarioResult, type ScenarioResult } from './scenario.js';

/** The record the hostile code runs for. */
const TARGET = 50;

export interface HostileCase {
  name: string;
  /** Handler statements (see TortureJob.hostile). */
  hostile?: string;
  /** Module-level statements. */
  prelude?: string;
  /** Records that must fail, and their kind ('*': any kind but `crashed`). */
  failures?: Record<number, string>;
  /** How the first run must end: `0` when the engine pinned the fault on its record and went on. */
  firstRun: string;
  /** The fault must have failed the target's first attempt (so it was called again), not vanished. */
  retried?: boolean;
}

/** The exit code of a run stopped by an error no running record can be blamed for (docs/semantics.md, "Isolation"). */
const UNCAUGHT_ERROR = '6';
/** The exit code of a run whose job code called process.exit mid-run, whatever code it passed. */
const JOB_EXITED = '7';

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'handler calls process.exit(0) mid-run (once)',
    hostile: `if (r.id === ${TARGET} && once('exit')) process.exit(0);`,
    firstRun: JOB_EXITED,
  },
  {
    name: 'handler calls process.exit(0) on every call',
    hostile: `if (r.id === ${TARGET}) process.exit(0);`,
    // The record really kills every run it is in: quarantined as crashed, rightly.
    failures: { [TARGET]: 'crashed' },
    firstRun: JOB_EXITED,
  },
  {
    name: 'handler throws inside setTimeout (once)',
    hostile: `if (r.id === ${TARGET} && once('timer')) { setTimeout(() => { throw new Error('thrown from a timer'); }, 0); await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    // The timer runs in the handler's async context: the attempt fails, and its retry succeeds.
    firstRun: '0',
    retried: true,
  },
  {
    name: 'handler leaves an unhandled rejection (once)',
    hostile: `if (r.id === ${TARGET} && once('rejection')) { Promise.reject(new Error('nobody awaits this')); await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: '0',
    retried: true,
  },
  {
    name: 'a timer set up outside any handler throws mid-run (once)',
    prelude: `setInterval(() => { if (globalThis.bomb && once('module-timer')) { globalThis.bomb = false; throw new Error('thrown outside any record'); } }, 5).unref();`,
    hostile: `if (r.id === ${TARGET}) { globalThis.bomb = true; await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: UNCAUGHT_ERROR,
  },
  {
    name: 'a rejection outside any handler mid-run (once)',
    prelude: `setInterval(() => { if (globalThis.bomb && once('module-rejection')) { globalThis.bomb = false; Promise.reject(new Error('rejected outside any record')); } }, 5).unref();`,
    hostile: `if (r.id === ${TARGET}) { globalThis.bomb = true; await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: UNCAUGHT_ERROR,
  },
  {
    name: 'unserialisable results (BigInt, circular, throwing toJSON) and hostile throws (revoked Proxy, throwing Proxy)',
    hostile: `
    if (r.id === ${TARGET}) return { id: r.id, big: 10n };
    if (r.id === ${TARGET + 1}) { const o = { id: r.id }; o.self = o; return o; }
    if (r.id === ${TARGET + 2}) return { id: r.id, toJSON() { throw new Error('no JSON for you'); } };
    if (r.id === ${TARGET + 3}) { const { proxy, revoke } = Proxy.revocable({}, {}); revoke(); throw proxy; }
    if (r.id === ${TARGET + 4}) throw new Proxy({}, { get() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); }, ownKeys() { throw new Error('trap'); } });`,
    failures: { [TARGET]: 'fatal', [TARGET + 1]: 'fatal', [TARGET + 2]: 'fatal', [TARGET + 3]: '*', [TARGET + 4]: '*' },
    firstRun: '0',
  },
];

export async function hostileScenario(dir: string, hostile: HostileCase): Promise<ScenarioResult> {
  const job: TortureJob = {
    dir,
    records: 300,
    concurrency: 8,
    failEvery: 97,
    hostile: hostile.hostile,
    prelude: hostile.prelude,
    options: 'retry: { maxAttempts: 2, backoff: { kind: "constant", delayMs: 10 } },',
  };
  writeTortureJob(job);
  // A record that kills every run is found by bisection: at most 1 + log2(concurrency) + maxCrashes deaths.
  const runs = await runUntilDone(job, 12);
  const endings = runs.map(ending);
  const problems: string[] = [];
  check(problems, endings[0] === hostile.firstRun, `the first run ended with ${endings[0]}, expected ${hostile.firstRun}`);
  check(problems, runs.at(-1)?.code === 0, `the job did not complete (runs ended ${endings.join(' ')})`);
  if (hostile.retried) {
    const calls = readCalls(jobPaths(job).calls).filter((id) => id === TARGET).length;
    check(problems, calls >= 2, `record ${TARGET} was called ${calls} time(s): the escaped error did not fail its attempt`);
  }
  const bugs = runs.filter((r) => r.stderr.includes('a bug in batchguard')).length;
  check(problems, bugs === 0, `${bugs} runs reported a bug in batchguard`);
  const expected = expectFailures(ruleFailures(job), 'fatal');
  for (const [id, kind] of Object.entries(hostile.failures ?? {})) expected.set(Number(id), kind);
  return scenarioResult(hostile.name, job, expected, { endings, problems });
}
