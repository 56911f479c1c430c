/**
 * Errors that escape a handler's promise: a throw in a timer or event callback the handler started,
 * a rejection nobody awaited. Node reports them to the whole process (`uncaughtException`,
 * `unhandledRejection`) and by default kills it, which loses the uncommitted batch and exits with
 * code 1, the code of "threshold exceeded".
 *
 * While a run is active, process-level listeners catch them instead. Each handler call runs inside
 * a scope naming its attempt; Node carries that scope into every timer, callback and promise the
 * handler creates, and it is still current when the listener is called. So an escaped error fails
 * the attempt it came from, as if the handler had thrown it. An error with no scope (code outside
 * any handler), or whose attempt has already ended, cannot be pinned on a running record: every
 * active run is told, and stops cleanly.
 *
 * The scope is what AsyncLocalStorage does on Node 20, written out: an `init` hook copies the
 * current resource's attempt onto each resource created under it. Written out because on Node 20
 * any async hook turns on promise hooks for every promise of the process, and this one can (1)
 * leave alone the resources created outside any attempt (an AsyncLocalStorage stores `undefined`
 * on each: a property added to every promise the engine makes), (2) enter an attempt without
 * AsyncLocalStorage.run's rest-argument arrays and second resource lookup, and (3) be turned off
 * when the last run ends (an AsyncLocalStorage keeps the hooks on for the rest of the process).
 *
 * Within the synchronous part of a handler call the attempt is not written on the current resource
 * (a property added to whatever promise the engine is running in, once a record): it is held in a
 * module variable with the async id it was entered under, and a resource created while that id is
 * still current takes it from there (executionAsyncId() reads a field; executionAsyncResource()
 * looks the resource up). Code that enters another resource's scope synchronously (an
 * AsyncResource's runInAsyncScope) changes the id, so its resources take that resource's attempt.
 *
 * The listeners and the hook are installed when the first run starts and removed when the last one
 * ends, so a process embedding batchguard keeps Node's default behaviour outside its runs.
 */
import { createHook, executionAsyncId, executionAsyncResource } from 'node:async_hooks';

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

/** Where an async resource (a promise, a timer, a socket…) keeps the attempt it was created in. */
const ATTEMPT = Symbol('batchguard.attempt');
type Carrier = { [ATTEMPT]?: AttemptScope };

const runs = new Set<EscapeListener>();
/** Runs that attribute escapes (`attributeEscapes`): the hook is on while there is one. */
let attributing = 0;
let propagating = false;
/** The attempt whose handler call is on the stack now (inAttempt), and the async id it was entered under. */
let calling: AttemptScope | undefined;
let callingId = -1;
const propagation = createHook({
  init(_asyncId, _type, _triggerAsyncId, resource) {
    const scope = currentAttempt();
    if (scope !== undefined) (resource as Carrier)[ATTEMPT] = scope;
  },
});

function propagate(on: boolean): void {
  if (on === propagating) return;
  propagating = on;
  if (on) propagation.enable();
  else propagation.disable();
}

/** Calls `fn(a, b)` inside `scope`: what it starts, and what that starts, belongs to the attempt. */
export function inAttempt<A, B, R>(scope: AttemptScope, fn: (a: A, b: B) => R, a: A, b: B): R {
  // On while a run attributes escapes (watchEscapes); a call outside any run (a test of the
  // executor alone) turns it on too.
  if (!propagating) propagate(true);
  const outer = calling;
  const outerId = callingId;
  calling = scope;
  callingId = executionAsyncId();
  try {
    return fn(a, b);
  } finally {
    calling = outer;
    callingId = outerId;
  }
}

/**
 * The attempt whose code is running now, if any (e.g. the one calling `process.exit`): the handler
 * call on the stack, else the current resource's.
 */
export function currentAttempt(): AttemptScope | undefined {
  if (calling !== undefined && executionAsyncId() === callingId) return calling;
  return (executionAsyncResource() as Carrier)[ATTEMPT];
}

/**
 * Tells `run` about escaped errors until the returned function is called. The process-level
 * listeners exist only while at least one run is watching; the scopes' hook only while at least
 * one of them runs its handlers in scopes (`attributes`).
 */
export function watchEscapes(run: EscapeListener, attributes: boolean): () => void {
  runs.add(run);
  if (attributes && ++attributing === 1) propagate(true);
  if (runs.size === 1) {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  }
  let watching = true;
  return () => {
    if (!watching) return;
    watching = false;
    runs.delete(run);
    if (attributes && --attributing === 0) propagate(false);
    if (runs.size > 0) return;
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  };
}

function onEscape(error: unknown): void {
  // An exception thrown here would kill the process, the very thing this module prevents.
  try {
    const scope = currentAttempt();
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
