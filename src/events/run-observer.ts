/**
 * A part that watches a run from inside the engine (tracing, src/observe/tracing.ts): it gets
 * every event as a job's `onEvent` does, and says what went wrong in it, for the summary's warnings.
 */
import type { EngineEvent, EventListener } from './engine-event.js';

export interface RunObserver {
  /** Names it in the summary's warnings when its `onEvent` throws. */
  readonly name: string;
  readonly onEvent: EventListener;
  /** The event types it wants; absent: every type. */
  readonly eventTypes?: readonly EngineEvent['type'][];
  /** Its own troubles (a package it could not load, a span it could not open), one line each. */
  warnings(): readonly string[];
}
