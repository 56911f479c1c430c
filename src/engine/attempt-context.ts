/**
 * The `ctx` a handler receives, which is also its attempt's escape scope (escaped-errors.ts): one
 * object an attempt, not two. A class with lazy getters rather than an object literal with
 * closures: on a million no-op records, the AbortController and the idempotency key are never
 * built unless the handler reads them.
 */
import type { HandlerContext } from '../job.js';
import type { SourcePosition } from '../sources/source.js';
import type { EngineEvents } from './events.js';
import { AttemptSteps, type StepStore } from './durable-step.js';
import type { AttemptScope, EscapeListener } from './escaped-errors.js';
import type { OpenRecord } from './open-record.js';

/** What fails an attempt from outside its promise: the executor (its `escaped`). */
export interface AttemptOwner {
  escaped(entry: OpenRecord, generation: number, error: unknown): boolean;
}

/** What every attempt of a run shares: one object, not five fields on each `ctx`. */
export interface AttemptShared {
  readonly jobName: string;
  readonly events: EngineEvents;
  readonly stepStore: StepStore | undefined;
  readonly owner: AttemptOwner;
  /** The run, told about errors that escape the attempt after it ended (undefined: no escape scopes). */
  readonly escapes: EscapeListener | undefined;
}

export class AttemptContext implements HandlerContext, AttemptScope {
  // Own fields, as they always were: a handler may spread or print its ctx.
  readonly key: string;
  readonly attempt: number;
  readonly position: SourcePosition;
  readonly failedDependencies: readonly string[];
  private controller: AbortController | undefined;
  private steps: AttemptSteps | undefined;
  // Private fields proper (#): a handler that prints or serializes its ctx must not meet the open
  // record (which holds the ctx: JSON.stringify would throw on the cycle) or the run's internals.
  readonly #entry: OpenRecord;
  /** The entry's generation while this attempt runs: an escape after it is late (see RecordExecutor.escaped). */
  readonly #generation: number;
  readonly #shared: AttemptShared;

  constructor(entry: OpenRecord, generation: number, shared: AttemptShared) {
    this.#entry = entry;
    this.#generation = generation;
    this.#shared = shared;
    this.key = entry.key;
    this.attempt = entry.attempt;
    this.position = entry.position;
    this.failedDependencies = entry.failedDependencies;
  }

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  get idempotencyKey(): string {
    return `${this.#shared.jobName}:${this.key}`;
  }

  log(message: string, fields?: Record<string, unknown>): void {
    this.#shared.events.emit({ type: 'record:log', key: this.key, message, fields });
  }

  step<R>(name: string, fn: () => R | PromiseLike<R>): Promise<R> {
    return (this.steps ??= new AttemptSteps(this.#shared.stepStore, this.key, this.#entry)).run(name, fn);
  }

  /** Aborts the handler's signal (timeout, or the run stopping). */
  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }

  /** The escape scope's run (only read when the executor runs the handler in scopes). */
  get run(): EscapeListener {
    return this.#shared.escapes as EscapeListener;
  }

  /** An error escaped this attempt: it fails it, when it still runs. */
  fail(error: unknown): boolean {
    return this.#shared.owner.escaped(this.#entry, this.#generation, error);
  }
}
