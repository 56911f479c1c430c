/**
 * The `ctx` a handler receives. A class with lazy getters rather than an object literal with
 * closures: on a million no-op records, the AbortController and the idempotency key are never
 * built unless the handler reads them.
 */
import type { HandlerContext } from '../job.js';
import type { SourcePosition } from '../sources/source.js';
import type { EngineEvents } from './events.js';
import { AttemptSteps, type StepStore } from './durable-step.js';

export class AttemptContext implements HandlerContext {
  private controller: AbortController | undefined;
  private steps: AttemptSteps | undefined;

  constructor(
    readonly key: string,
    readonly attempt: number,
    readonly position: SourcePosition,
    private readonly jobName: string,
    private readonly events: EngineEvents,
    readonly failedDependencies: readonly string[],
    private readonly stepStore?: StepStore,
  ) {}

  get signal(): AbortSignal {
    return (this.controller ??= new AbortController()).signal;
  }

  get idempotencyKey(): string {
    return `${this.jobName}:${this.key}`;
  }

  log(message: string, fields?: Record<string, unknown>): void {
    this.events.emit({ type: 'record:log', key: this.key, message, fields });
  }

  step<R>(name: string, fn: () => R | PromiseLike<R>): Promise<R> {
    return (this.steps ??= new AttemptSteps(this.stepStore, this.key)).run(name, fn);
  }

  /** Aborts the handler's signal (timeout, or the run stopping). */
  abort(reason: unknown): void {
    (this.controller ??= new AbortController()).abort(reason);
  }
}
