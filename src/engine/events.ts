/**
 * Delivers the engine's events (src/events/engine-event.ts) to its subscribers.
 */
import type { EngineEvent, EventListener } from '../events/engine-event.js';
import type { RunObserver } from '../events/run-observer.js';
import { EngineEventType } from './engine-event-type.js';

export type { EngineEvent, EventListener } from '../events/engine-event.js';

/** A listener, with what went wrong in it. */
interface Subscriber {
  readonly name: string;
  readonly listener: EventListener;
  /** The event types it is given; undefined: every type. */
  readonly types: ReadonlySet<EngineEventType> | undefined;
  failures: number;
  firstFailure: string | undefined;
}

/** A listener and the event types it wants (undefined: every type). */
export interface EventSubscription {
  readonly name: string;
  readonly listener: EventListener | undefined;
  readonly types?: readonly EngineEventType[] | undefined;
}

/**
 * Delivers events to each listener in turn: the run's `onEvent` option (the CLI's displays), the
 * job's own `onEvent`, and the run's observers (tracing). A listener that throws, or an async one that
 * rejects, must not break the run nor keep the others from their events: its failures are counted
 * and named in the summary's warnings.
 *
 * A listener may say which event types it wants: it is given only those, and an event that no
 * listener wants is not built at all where building it costs something on a record's way (see
 * `wants`): a run whose listeners only print failures pays nothing per success.
 */
export class EngineEvents {
  private readonly subscribers: Subscriber[];
  /** Per event type: whether any subscriber wants it. */
  private readonly wanted: Readonly<Record<EngineEventType, boolean>>;

  constructor(
    subscriptions: readonly EventSubscription[],
    private readonly observers: readonly RunObserver[] = [],
  ) {
    const all: EventSubscription[] = [
      ...subscriptions,
      ...observers.map((observer) => ({ name: observer.name, listener: observer.onEvent, types: observer.eventTypes })),
    ];
    this.subscribers = all
      .filter((s): s is EventSubscription & { listener: EventListener } => s.listener !== undefined)
      .map(({ name, listener, types }) => ({ name, listener, types: types && new Set(types), failures: 0, firstFailure: undefined }));
    const wanted = {} as Record<EngineEventType, boolean>;
    for (const type of Object.values(EngineEventType))
      wanted[type] = this.subscribers.some((s) => s.types === undefined || s.types.has(type));
    this.wanted = Object.freeze(wanted);
  }

  /**
   * Whether some listener wants events of this type: the engine builds an event whose making costs
   * something (a clock read, an array) only then.
   */
  wants(type: EngineEventType): boolean {
    return this.wanted[type];
  }

  emit(event: EngineEvent): void {
    if (!this.wanted[event.type]) return;
    for (const subscriber of this.subscribers) {
      if (subscriber.types !== undefined && !subscriber.types.has(event.type)) continue;
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
  if (subscriber.firstFailure === undefined) subscriber.firstFailure = `a ${event.type} event: ${describeThrown(error)}`;
}

function describeThrown(error: unknown): string {
  try {
    if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
    return String(error).slice(0, 300);
  } catch {
    return 'an error that cannot be shown';
  }
}
