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
import { ExitCode, exitCodeOf, type StopSignal } from './exit-codes.js';

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
export function guardExit(tell: (exit: MidRunExit) => void, done?: Promise<unknown>): () => void {
  let finished = false;
  let told = false;
  let drained = false;
  const onExit = (code: number): void => {
    if (finished || told) return;
    told = true;
    process.exitCode = ExitCode.exitedMidRun;
    tell({ code, key: currentAttempt()?.key, drained });
  };
  // The event loop ran out of work: nothing called process.exit (see MidRunExit.drained).
  const onDrained = (): void => {
    drained = true;
  };
  // An exit that ends the event loop without process.exit does not reach the hook: the listener.
  process.on('exit', onExit);
  process.on('beforeExit', onDrained);
  decideExitCode((requested) => {
    if (finished) return requested;
    onExit(requested);
    return ExitCode.exitedMidRun;
  });
  const unguard = (): void => {
    if (finished) return;
    finished = true;
    process.off('exit', onExit);
    process.off('beforeExit', onDrained);
    decideExitCode(undefined);
  };
  done?.then(unguard, unguard);
  return unguard;
}

/** An exit of the process while a run was unfinished. */
export interface MidRunExit {
  /** The code asked for. */
  readonly code: number;
  /** The record whose handler exited, when known. */
  readonly key: string | undefined;
  /**
   * Nothing called process.exit: the event loop ran out of work, the run waiting for a promise that
   * nothing will ever settle (a handler's, an output sink's flush) with no timer or socket left.
   */
  readonly drained: boolean;
}

/** What ended the process, for the line that says so. */
export function exitedBy(exit: MidRunExit): string {
  if (exit.drained)
    return 'the process ran out of work (the job waits for a promise that nothing will settle, with no timer or socket left)';
  return `${exit.key === undefined ? "the job's code" : `the handler of record ${JSON.stringify(exit.key)}`} called process.exit(${exit.code})`;
}

/** What a run or a worker logs when the process exits mid-run (guardExit). */
export function logExitedMidRun(log: Logger): (exit: MidRunExit) => void {
  return (exit) => {
    // Writes to a pipe or a file are synchronous here, so the entry is out before the process is.
    log.fatal(
      { event: 'run:exited', key: exit.key, code: exit.code, exitCode: ExitCode.exitedMidRun },
      `${exitedBy(exit)} while the run was unfinished; ` +
        `nothing after the last checkpoint was saved; exit code ${ExitCode.exitedMidRun}. Run \`batchguard run\` again to resume: ` +
        'the records that were in flight count as crashed, and one that exits every time is failed as crashed after maxCrashes runs',
    );
  };
}

/**
 * A third stop signal: the run could not save after the second (its ledger's database froze, an
 * output sink hangs), and the user will not wait. The process ends at once, as a crash would (the
 * next run redoes what was not committed), with the first signal's exit code.
 */
export function quitUnsaved(log: Logger, signal: StopSignal, first: StopSignal, unguard: () => void): never {
  log.warn(
    { event: 'run:signal', signal },
    `${signal} a third time: quitting without waiting to save; what was not committed is redone by the next run, as after a crash`,
  );
  unguard();
  return exitWith(exitCodeOf('interrupted', first));
}
