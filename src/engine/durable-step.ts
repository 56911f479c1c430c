/**
 * `ctx.step(name, fn)`: a part of a handler whose result is stored in the ledger once it
 * completes, so that a retry, a resume after a crash, or a rerun of the record replays the stored
 * result instead of calling `fn` again (a record that charged a card and then failed to send an
 * email does not charge twice). Costs one ledger read per attempt that uses a step and one small
 * immediate write per completed step (docs/jobs.md, "Durable steps").
 */
import { MAX_STEP_NAME_BYTES, unstorableText } from '../domain/identity-text.js';
import { FatalError } from '../errors.js';
import type { Ledger, StoredStep } from '../ledger/ledger.js';
import { thrownSummary } from '../policy/error-fields.js';

/** Where a run keeps its records' steps: the run's ledger, under its run id. */
export interface StepStore {
  completed(key: string): Promise<ReadonlyMap<string, StoredStep>>;
  save(key: string, name: string, result: string | undefined): Promise<void>;
}

/** The steps of `ledger`, written under `runId` (the lease's fence). */
export function ledgerSteps(ledger: Ledger, runId: string): StepStore {
  return {
    completed: (key) => ledger.completedSteps(key),
    save: (key, name, result) => ledger.saveStep(runId, key, name, result),
  };
}

/** How a call of a step's fn ended: its result stored (JSON, undefined for undefined), or not storable. */
type StepEnd = { readonly saved: string | undefined } | { readonly unstorable: unknown };

/**
 * The calls of a record's steps in this run, by name, whichever attempt made them: each settles once
 * its result is stored. Kept on the open record, so they go with it.
 */
export type StepCalls = Map<string, Promise<StepEnd>>;

/** The steps of one attempt of one record: read from the store once, on the first step. */
export class AttemptSteps {
  private done: Promise<Map<string, StoredStep>> | undefined;

  constructor(
    private readonly store: StepStore | undefined,
    private readonly key: string,
    /** Where the record keeps its calls of steps, shared by its attempts (the open record). */
    private readonly record: { stepCalls: StepCalls | undefined },
  ) {}

  async run<R>(name: string, fn: () => R | PromiseLike<R>): Promise<R> {
    if (typeof name !== 'string' || name === '')
      throw new TypeError(`ctx.step(name, fn): name must be a non-empty string; got ${String(name)}`);
    // A name stored as another would not find its stored result: fn would run again.
    const unstorable = unstorableText(name, MAX_STEP_NAME_BYTES);
    if (unstorable !== undefined) throw new TypeError(`ctx.step(${JSON.stringify(name)}, fn): the name ${unstorable}`);
    if (typeof fn !== 'function') throw new TypeError(`ctx.step("${name}", fn): fn must be a function; got ${typeof fn}`);
    // Without a ledger (a replay of one record) a step is a plain call.
    if (this.store === undefined) return fn();
    const store = this.store;
    const done = await (this.done ??= store.completed(this.key).then((steps) => new Map(steps)));
    const stored = done.get(name);
    if (stored !== undefined) return replay(stored.result) as R;
    // An earlier attempt that timed out (its handler ignored ctx.signal) may still be in this step,
    // its side effect under way, or have completed it after this attempt read the stored steps: a
    // retry that called fn then charged twice. The record keeps its calls of this run by name; a
    // retry waits for the call and replays its result. A call whose fn threw is dropped (nothing was
    // stored) and fn runs again.
    const calls = (this.record.stepCalls ??= new Map());
    const earlier = calls.get(name);
    if (earlier !== undefined) {
      const end = await earlier.catch(() => undefined);
      if (end !== undefined) return replay(this.settled(done, name, end)) as R;
    }
    let value: unknown;
    const call = (async (): Promise<StepEnd> => {
      value = await fn();
      let result: string | undefined;
      try {
        result = encode(name, value);
      } catch (error) {
        return { unstorable: error };
      }
      await store.save(this.key, name, result);
      return { saved: result };
    })();
    calls.set(name, call);
    let end: StepEnd;
    try {
      end = await call;
    } catch (error) {
      if (calls.get(name) === call) calls.delete(name);
      throw error;
    }
    this.settled(done, name, end);
    return value as R;
  }

  /** Records the end of a call of the step and returns what it stored, or throws the error of a result that could not be. */
  private settled(done: Map<string, StoredStep>, name: string, end: StepEnd): string | undefined {
    if ('unstorable' in end) throw end.unstorable;
    done.set(name, end.saved === undefined ? {} : { result: end.saved });
    return end.saved;
  }
}

function replay(result: string | undefined): unknown {
  return result === undefined ? undefined : JSON.parse(result);
}

// A result that cannot be stored cannot be replayed: the step's side effect has happened, so
// retrying the record would repeat it. Fatal, naming the step, so the job is fixed first.
function encode(name: string, value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch (error) {
    throw new FatalError(
      `ctx.step("${name}") returned a result that cannot be stored as JSON (${thrownSummary(error)}); return plain data from a step`,
      {
        cause: error,
      },
    );
  }
}
