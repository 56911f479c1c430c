/**
 * Delivers the engine's events (src/events/engine-event.ts) to a listener.
 */
import type { EngineEvent, EventListener } from '../events/engine-event.js';

export type { EngineEvent, EventListener } from '../events/engine-event.js';

/** Delivers events to one listener; a listener that throws, or an async one that rejects, must not break the run. */
export class EngineEvents {
  /** False when nobody listens: events that cost something to build are skipped. */
  readonly listening: boolean;

  constructor(private readonly listener: EventListener | undefined) {
    this.listening = listener !== undefined;
  }

  emit(event: EngineEvent): void {
    if (!this.listener) return;
    try {
      const returned: unknown = this.listener(event);
      // An async listener's rejection would otherwise be unhandled, and blamed on the record whose
      // handler logged (its attempt scope is current), or stop the run.
      if (returned instanceof Promise) returned.catch(ignore);
    } catch {
      // A broken progress display is not a reason to lose a batch.
    }
  }
}

function ignore(): void {}
