/**
 * Hostile handlers: code that tries to get around the engine's promise that nothing a handler does
 * escapes it. Each case runs a small job (with its own failing records and an output sink) until
 * done and checks how the runs ended and that the books balance.
 */
import { ruleFailures, writeTortureJob, type TortureJob } from './torture-job.js';
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
  /** What the first run's ending must be; returns a problem, or undefined when it is right. */
  firstRun: (ending: string) => string | undefined;
}

/** Not 0 (a scheduler would see success), not 1 (threshold exceeded), not 70 (a bug), not a signal. */
const stoppedWithOwnCode = (what: string) => (end: string): string | undefined =>
  /^\d+$/.test(end) && !['0', '1', '70'].includes(end) ? undefined : `${what}: the first run ended with ${end}, expected a code that is neither 0, 1 nor 70`;

/** Either the error was pinned on the record (the run goes on and completes: 0) or the run stopped with its own code. */
const attributedOrStopped = (what: string) => (end: string): string | undefined =>
  end === '0' ? undefined : stoppedWithOwnCode(what)(end);

export const HOSTILE_CASES: HostileCase[] = [
  {
    name: 'handler calls process.exit(0) mid-run (once)',
    hostile: `if (r.id === ${TARGET} && once('exit')) process.exit(0);`,
    firstRun: (end) => (end === '0' ? 'process.exit(0) in a handler made the run exit 0 (a scheduler sees success)' : undefined),
  },
  {
    name: 'handler calls process.exit(0) on every call',
    hostile: `if (r.id === ${TARGET}) process.exit(0);`,
    // The record really kills every run it is in: quarantined as crashed, rightly.
    failures: { [TARGET]: 'crashed' },
    firstRun: (end) => (end === '0' ? 'process.exit(0) in a handler made the run exit 0 (a scheduler sees success)' : undefined),
  },
  {
    name: 'handler throws inside setTimeout (once)',
    hostile: `if (r.id === ${TARGET} && once('timer')) { setTimeout(() => { throw new Error('thrown from a timer'); }, 0); await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: attributedOrStopped('a throw in a timer'),
  },
  {
    name: 'handler leaves an unhandled rejection (once)',
    hostile: `if (r.id === ${TARGET} && once('rejection')) { Promise.reject(new Error('nobody awaits this')); await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: attributedOrStopped('an unhandled rejection'),
  },
  {
    name: 'a timer set up outside any handler throws mid-run (once)',
    prelude: `setInterval(() => { if (globalThis.bomb && once('module-timer')) { globalThis.bomb = false; throw new Error('thrown outside any record'); } }, 5).unref();`,
    hostile: `if (r.id === ${TARGET}) { globalThis.bomb = true; await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: stoppedWithOwnCode('an unattributable uncaught error'),
  },
  {
    name: 'a rejection outside any handler mid-run (once)',
    prelude: `setInterval(() => { if (globalThis.bomb && once('module-rejection')) { globalThis.bomb = false; Promise.reject(new Error('rejected outside any record')); } }, 5).unref();`,
    hostile: `if (r.id === ${TARGET}) { globalThis.bomb = true; await new Promise((resolve) => setTimeout(resolve, 50)); }`,
    firstRun: stoppedWithOwnCode('an unattributable unhandled rejection'),
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
    firstRun: (end) => (end === '0' ? undefined : `the run ended with ${end}, expected 0 (five failures out of 300 are within the threshold)`),
  },
];

export async function hostileScenario(dir: string, hostile: HostileCase): Promise<ScenarioResult> {
  const job: TortureJob = { dir, records: 300, concurrency: 8, failEvery: 97, hostile: hostile.hostile, prelude: hostile.prelude, options: 'retry: { maxAttempts: 2, backoff: { kind: "constant", delayMs: 10 } },' };
  writeTortureJob(job);
  const runs = await runUntilDone(job, 6);
  const endings = runs.map(ending);
  const problems: string[] = [];
  const first = hostile.firstRun(endings[0] ?? 'none');
  if (first) problems.push(first);
  check(problems, runs.at(-1)?.code === 0, `the job did not complete (runs ended ${endings.join(' ')})`);
  const noisy = runs.filter((r) => /\n\s+at /.test(r.stderr)).length;
  check(problems, noisy === 0, `${noisy} runs printed a stack trace on stderr`);
  const expected = expectFailures(ruleFailures(job), 'fatal');
  for (const [id, kind] of Object.entries(hostile.failures ?? {})) expected.set(Number(id), kind);
  return scenarioResult(hostile.name, job, expected, { endings, problems });
}
