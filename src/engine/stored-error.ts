/**
 * A failed attempt's error as the ledger stores it: serialised without batchguard's own stack
 * frames, by a path that never throws, whatever was thrown.
 */
import { serializeError, type SerializedError } from '../policy/serialize-error.js';
import { thrownSummary } from '../policy/error-fields.js';
import type { Redactor } from '../policy/redact.js';

/**
 * The error as stored, without engine frames. `serializeError` is meant never to throw; if it
 * still does on some hostile value, the record fails with what can be said of it rather than the
 * failure path itself escaping the engine.
 */
export function safeSerialize(error: unknown, redact?: Redactor): SerializedError {
  try {
    return withoutEngineFrames(serializeError(error, { redact }));
  } catch {
    return { name: 'UnreadableError', message: `the thrown value could not be read: ${thrownSummary(error)}` };
  }
}

/** Where batchguard's own code lives (dist/ or src/): its frames say nothing about the record. */
const ENGINE_DIR = new URL('../', import.meta.url).pathname;

/** Drops batchguard's and Node's internal frames from stored stacks, through the cause chain. */
function withoutEngineFrames(error: SerializedError): SerializedError {
  const stack = error.stack
    ?.split('\n')
    .filter(
      (line) =>
        !(
          line.trimStart().startsWith('at ') &&
          (line.includes(ENGINE_DIR) || line.includes('node:internal') || line.includes('/node_modules/commander/'))
        ),
    )
    .join('\n');
  return {
    ...error,
    ...(stack !== undefined ? { stack } : {}),
    ...(error.cause ? { cause: withoutEngineFrames(error.cause) } : {}),
  };
}

/** `error` with `cause` set when it has none; as it is when it cannot take one (frozen, a proxy, not an Error). */
export function withCause(error: unknown, cause: unknown): unknown {
  try {
    if (error instanceof Error && error.cause === undefined) error.cause = cause;
  } catch {
    // Nothing to add the cause to; the error itself is what the record failed with.
  }
  return error;
}
