/**
 * Errors that escape a handler's promise: a throw in a timer or event callback the handler started,
 * a rejection nobody awaited. Node reports them to the whole process (`uncaughtException`,
 * `unhandledRejection`) and by default kills it, which loses the uncommitted batch and exits with
 * code 1, the code of "threshold exceeded".
 *
 * While a run is active, process-level listeners catch them instead. Each handler call runs inside
 * an AsyncLocalStorage scope naming its attempt; Node carries that scope into every timer, callback
 * and promise the handler creates, and it is still current when the listener is called. So an
 * escaped error fails the attempt it came from, as if the handler had thrown it. An error with no
 * scope (code outside any handler), or whose attempt has already ended, cannot be pinned on a
 * running record: every active run is told, and stops cleanly.
 *
 * The listeners are installed when the first run starts and removed when the last one ends, so a
 * process embedding batchguard keeps Node's default behaviour outside its runs.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** A run, as told about an escaped error that no running attempt owns. */
export interface EscapeListener {
  /**
   * `origin` names the record the error came from when it is known (its attempt had already ended),
   * undefined when the error was raised outside any handler.
   */
  uncaught(error: unknown, origin: string | undefined): void;
}

/** The attempt a handler call belongs to. */
export interface AttemptScope {
  readonly run: EscapeListener;
  readonly key: string;
  /** Fails the attempt with `error` when it is still running; false when it has already ended. */
  fail(error: unknown): boolean;
}

const scopes = new AsyncLocalStorage<AttemptScope>();
const runs = new Set<EscapeListener>();

/** Calls `fn(...args)` inside `scope`: what it starts, and what that starts, belongs to the attempt. */
export function inAttempt<A extends unknown[], R>(scope: AttemptScope, fn: (...args: A) => R, ...args: A): R {
  return scopes.run(scope, fn, ...args);
}

/** The attempt whose code is running now, if any (e.g. the one calling `process.exit`). */
export function currentAttempt(): AttemptScope | undefined {
  return scopes.getStore();
}

/**
 * Tells `run` about escaped errors until the returned function is called. The process-level
 * listeners exist only while at least one run is watching.
 */
export function watchEscapes(run: EscapeListener): () => void {
  runs.add(run);
  if (runs.size === 1) {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  }
  return () => {
    if (!runs.delete(run) || runs.size > 0) return;
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  };
}

function onEscape(error: unknown): void {
  // An exception thrown here would kill the process, the very thing this module prevents.
  try {
    const scope = scopes.getStore();
    if (scope !== undefined && runs.has(scope.run)) {
      if (!scope.fail(error)) tell(scope.run, error, `record ${JSON.stringify(scope.key)}, after its attempt had ended`);
      return;
    }
    for (const run of runs) tell(run, error, undefined);
  } catch {
    // Nothing more can be done for this error.
  }
}

function tell(run: EscapeListener, error: unknown, origin: string | undefined): void {
  try {
    run.uncaught(error, origin);
  } catch {
    // One run failing to take note must not keep the others from stopping.
  }
}
