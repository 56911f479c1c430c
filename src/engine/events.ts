/**
 * Delivers the engine's events (src/events/engine-event.ts) to its subscribers.
 */
import type { EngineEvent, EventListener } from '../events/engine-event.js';
import type { RunObserver } from '../events/run-observer.js';

export type { EngineEvent, EventListener } from '../events/engine-event.js';

/** A listener, with what went wrong in it. */
interface Subscriber {
  readonly name: string;
  readonly listener: EventListener;
  failures: number;
  firstFailure: string | undefined;
}

/**
 * Delivers events to each listener in turn: the run's `onEvent` option (the CLI's displays), the
 * job's own `onEvent`, and the run's observers (tracing). A listener that throws, or an async one that
 * rejects, must not break the run nor keep the others from their events: its failures are counted
 * and named in the summary's warnings.
 */
export class EngineEvents {
  /** False when nobody listens: events that cost something to build are skipped. */
  readonly listening: boolean;
  private readonly subscribers: Subscriber[];

  constructor(
    runListener: EventListener | undefined,
    jobListener?: EventListener,
    private readonly observers: readonly RunObserver[] = [],
  ) {
    const named: [string, EventListener | undefined][] = [
      ['the onEvent run option', runListener],
      ["the job's onEvent", jobListener],
      ...observers.map((observer): [string, EventListener] => [observer.name, observer.onEvent]),
    ];
    this.subscribers = named
      .filter((pair): pair is [string, EventListener] => pair[1] !== undefined)
      .map(([name, listener]) => ({ name, listener, failures: 0, firstFailure: undefined }));
    this.listening = this.subscribers.length > 0;
  }

  emit(event: EngineEvent): void {
    for (const subscriber of this.subscribers) {
      try {
        const returned: unknown = subscriber.listener(event);
        // An async listener's rejection would otherwise be unhandled, and blamed on the record whose
        // handler logged (its attempt scope is current), or stop the run.
        if (returned instanceof Promise) returned.catch((error: unknown) => failed(subscriber, event, error));
      } catch (error) {
        // A broken subscriber is not a reason to lose a batch.
        failed(subscriber, event, error);
      }
    }
  }

  /** One line per listener that failed, then the observers' own, for the summary's warnings. */
  warnings(): string[] {
    return [
      ...this.subscribers
        .filter((subscriber) => subscriber.failures > 0)
        .map((s) => `${s.name} failed ${s.failures} time(s), first on ${s.firstFailure}; the run went on without those calls`),
      ...this.observers.flatMap((observer) => observer.warnings()),
    ];
  }
}

function failed(subscriber: Subscriber, event: EngineEvent, error: unknown): void {
  subscriber.failures++;
  if (subscriber.firstFailure === undefined) subscriber.firstFailure = `a ${event.type} event: ${describe(error)}`;
}

function describe(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
    return String(error).slice(0, 300);
  } catch {
    return 'an error that cannot be shown';
  }
}
