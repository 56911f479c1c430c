/**
 * The exit status of the CLI's process is batchguard's, whatever the job's code does to the process.
 * A scheduler reads it, so a handler must not be able to turn a failed or unfinished run into a 0:
 * not by calling `process.exit(0)` mid-run (exit code 7 then, naming the record), nor by replacing
 * `process.exit`, nor from an `'exit'` listener that sets `process.exitCode` or calls
 * `process.exit(0)` again, nor by calling `process.reallyExit`, the undocumented function every exit
 * through `process.exit` ends in (libraries such as signal-exit wrap it; their wrappers still run).
 * Code that sets out to defeat this (replacing the hook again, killing its own process) is not
 * stopped: it runs with the process's full rights.
 */
import { currentAttempt } from '../engine/escaped-errors.js';
import type { Logger } from '../observe/logger.js';
import { ExitCode } from './exit-codes.js';

type ReallyExit = (this: NodeJS.Process, code: number) => void;
interface WithReallyExit {
  reallyExit: ReallyExit;
}

// Node's own, taken when the CLI's code loads: before the job file is imported.
const nodeExit = process.exit;
const nodeReallyExit = (process as unknown as WithReallyExit).reallyExit;

/** The code the process exits with, given the code it was asked to exit with; undefined: that one. */
let decide: ((requested: number) => number) | undefined;
let hooked = false;

/**
 * From now on every exit through `process.exit` ends with the code `decide` gives: the hook is
 * put in front of whatever `process.reallyExit` is now (a library's wrapper stays in the chain).
 */
function decideExitCode(next: ((requested: number) => number) | undefined): void {
  decide = next;
  if (hooked) return;
  hooked = true;
  const target = process as unknown as WithReallyExit;
  const previous = target.reallyExit;
  target.reallyExit = function (this: NodeJS.Process, requested: number): void {
    const code = decide ? decide(requested) : requested;
    previous.call(process, code);
    // A wrapper that did not exit (replaced by a function that does nothing): exit anyway.
    nodeReallyExit.call(process, code);
  };
}

/**
 * Ends the process with `code` once the command is over: the job's `'exit'` listeners still run,
 * but neither they nor a replaced `process.exit` change the code.
 */
export function exitWith(code: number): never {
  decideExitCode(() => code);
  process.exitCode = code;
  try {
    nodeExit.call(process, code);
  } finally {
    nodeReallyExit.call(process, code);
  }
  throw new Error('unreachable: the process has exited');
}

/**
 * Until the guard is removed, an exit of the process (the job's code calling `process.exit(0)`)
 * must not tell a scheduler that all went well: the exit code becomes 7, and `tell` is called once
 * with the code asked for and the key of the record whose handler exited, when known. Returns a
 * function that removes the guard; it is removed when `done` settles too, when given.
 */
export function guardExit(tell: (code: number, key: string | undefined) => void, done?: Promise<unknown>): () => void {
  let finished = false;
  let told = false;
  const onExit = (code: number): void => {
    if (finished || told) return;
    told = true;
    process.exitCode = ExitCode.exitedMidRun;
    tell(code, currentAttempt()?.key);
  };
  // An exit that ends the event loop without process.exit does not reach the hook: the listener.
  process.on('exit', onExit);
  decideExitCode((requested) => {
    if (finished) return requested;
    onExit(requested);
    return ExitCode.exitedMidRun;
  });
  const unguard = (): void => {
    if (finished) return;
    finished = true;
    process.off('exit', onExit);
    decideExitCode(undefined);
  };
  done?.then(unguard, unguard);
  return unguard;
}

/** Who exited, for the line that says so. */
export function exitedBy(key: string | undefined): string {
  return key === undefined ? "the job's code" : `the handler of record ${JSON.stringify(key)}`;
}

/** What a run or a worker logs when the job's code exits the process mid-run (guardExit). */
export function logExitedMidRun(log: Logger): (code: number, key: string | undefined) => void {
  return (code, key) => {
    // Writes to a pipe or a file are synchronous here, so the entry is out before the process is.
    log.fatal(
      { event: 'run:exited', key, code, exitCode: ExitCode.exitedMidRun },
      `${exitedBy(key)} called process.exit(${code}) while the run was unfinished; ` +
        `nothing after the last checkpoint was saved; exit code ${ExitCode.exitedMidRun}. Run \`batchguard run\` again to resume: ` +
        'the records that were in flight count as crashed, and one that exits every time is failed as crashed after maxCrashes runs',
    );
  };
}
