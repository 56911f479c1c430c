/**
 * A failed attempt's error as the ledger stores it: serialised without batchguard's own stack
 * frames, by a path that never throws, whatever was thrown.
 */
import { serializeIdentity, serializeStoredError, type SerializedError } from '../policy/serialize-error.js';
import { thrownSummary } from '../policy/error-fields.js';
import type { Redactor } from '../policy/redact.js';

/**
 * The error as stored, without engine frames. `serializeError` is meant never to throw; if it
 * still does on some hostile value, the record fails with what can be said of it rather than the
 * failure path itself escaping the engine.
 */
export function safeSerialize(error: unknown, redact?: Redactor): SerializedError {
  try {
    return serializeStoredError(error, redact, withoutEngineFrames);
  } catch {
    return { name: 'UnreadableError', message: `the thrown value could not be read: ${thrownSummary(error)}` };
  }
}

/**
 * What `safeSerialize(error)` gives a fingerprint (name, code, status and group along the cause
 * chain; see `serializeIdentity`), without reading the stack or redacting text. The same fallback
 * as `safeSerialize` when the value cannot be read, for the same fingerprint.
 */
export function safeIdentity(error: unknown): SerializedError {
  try {
    return serializeIdentity(error);
  } catch {
    return { name: 'UnreadableError', message: '' };
  }
}

/**
 * A failed attempt's error, serialised (by `safeSerialize`) when first read, then kept. A record
 * that fails once and succeeds on its retry, most failures of a flaky service, stores nothing of
 * its failed attempt: its error is then never serialised, and its stack never formatted (a retried
 * record's CPU went from ~85 to ~69 µs, bench/failure-cost.mjs retried). The thrown value is held until then
 * (by at most MAX_HELD_ERRORS records at once, HeldErrors), so what is stored is what it holds then:
 * a handler that changes an error it threw (its message) before the record's outcome is stored
 * changes what the outcome says of that attempt.
 */
export class LazySerializedError {
  private thrown: unknown;
  private serialized: SerializedError | undefined;

  constructor(
    thrown: unknown,
    private readonly redact: Redactor | undefined,
  ) {
    this.thrown = thrown;
  }

  /** An error serialised already (it was needed at once). */
  static of(serialized: SerializedError): LazySerializedError {
    const lazy = new LazySerializedError(undefined, undefined);
    lazy.serialized = serialized;
    return lazy;
  }

  /** Whether the thrown value is still held, unserialised. */
  get held(): boolean {
    return this.serialized === undefined;
  }

  get value(): SerializedError {
    if (this.serialized === undefined) {
      this.serialized = safeSerialize(this.thrown, this.redact);
      // The thrown value (and whatever it holds: a response, a request) is not kept past its use.
      this.thrown = undefined;
    }
    return this.serialized;
  }
}

/**
 * Thrown values held unserialised across retry waits, at most: past it, a retried attempt's error
 * is serialised at once. What a thrown value holds is the handler's (an HTTP client's error may hold
 * its response), and the records waiting for their retry can be thousands.
 */
export const MAX_HELD_ERRORS = 1000;

/** What counts a record's held errors: its retry state. */
interface Holder {
  heldErrors?: number;
}

/** Counts the thrown values that records' histories hold unserialised, so that at most `max` are. */
export class HeldErrors {
  private count = 0;

  constructor(private readonly max = MAX_HELD_ERRORS) {}

  get held(): number {
    return this.count;
  }

  /** `failure` goes into the history of `holder`'s record: kept unserialised, or serialised now when `max` are held. */
  hold(holder: Holder, failure: LazySerializedError): void {
    if (!failure.held) return;
    if (this.count >= this.max) {
      void failure.value;
      return;
    }
    this.count++;
    holder.heldErrors = (holder.heldErrors ?? 0) + 1;
  }

  /** The record has its outcome (or none: pending): what its history held no longer counts. */
  release(holder: Holder): void {
    this.count -= holder.heldErrors ?? 0;
    holder.heldErrors = 0;
  }
}

/** Where batchguard's own code lives (dist/ or src/): its frames say nothing about the record. */
const ENGINE_DIR = new URL('../', import.meta.url).pathname;

/**
 * A stack without batchguard's and Node's internal frames. Applied to each stack along the cause
 * chain as read, before it is cut and redacted (serializeStoredError): those frames are most of a
 * handler's stack when it throws at once (9 of 10), and redacting them cost more than the rest.
 */
function withoutEngineFrames(stack: string): string {
  return stack
    .split('\n')
    .filter(
      (line) =>
        !(
          line.trimStart().startsWith('at ') &&
          (line.includes(ENGINE_DIR) || line.includes('node:internal') || line.includes('/node_modules/commander/'))
        ),
    )
    .join('\n');
}
