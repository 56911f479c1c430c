/**
 * The `type` of every engine event as a runtime value, for listeners that switch on it without
 * spelling the strings. The union in src/events/engine-event.ts stays the definition; the checks below make this
 * object name every member of it and nothing else, so the two cannot drift apart.
 */
import type { EngineEvent } from './events.js';

/** Every `EngineEvent['type']`, by name. */
export const EngineEventType = {
  runStarted: 'run:started',
  recordRetrying: 'record:retrying',
  recordFailed: 'record:failed',
  attemptEnded: 'attempt:ended',
  recordSucceeded: 'record:succeeded',
  recordSkipped: 'record:skipped',
  breakerOpened: 'breaker:opened',
  breakerHalfOpen: 'breaker:half-open',
  breakerClosed: 'breaker:closed',
  concurrencyChanged: 'concurrency:changed',
  runAborted: 'run:aborted',
  runDeadline: 'run:deadline',
  runWaiting: 'run:waiting',
  runUncaughtError: 'run:uncaught-error',
  recordLog: 'record:log',
  checkpoint: 'checkpoint',
  runStopping: 'run:stopping',
  runFinished: 'run:finished',
} as const satisfies Record<string, EngineEvent['type']>;
export type EngineEventType = (typeof EngineEventType)[keyof typeof EngineEventType];

// A type that is `true` only when every event type is named above: a new event added to the union
// without a name here fails the type check.
type Missing = Exclude<EngineEvent['type'], EngineEventType>;
const everyEventNamed: [Missing] extends [never] ? true : Missing = true;
void everyEventNamed;
