/**
 * The three handlers every contender runs, as plain async functions of one record. Which records
 * fail is a pure function of the record's id, so every contender sees the same failures.
 */

/** Spreads failures over the input instead of bunching them on every 100th id. */
export function bucket(id) {
  return (Math.imul(id, 2654435761) >>> 0) % 100;
}

/** A transient error: the next attempt of the same record succeeds. */
export class TransientError extends Error {
  name = 'TransientError';
  transient = true;
}

/** A fatal error: every attempt of this record fails the same way; retrying is useless. */
export class PermanentError extends Error {
  name = 'PermanentError';
  fatal = true;
}

export const handlers = {
  /** Does nothing: what is left is the contender's own cost. */
  noop: () => async () => {},

  /** 5% of records fail once with a transient error, then succeed; 1% always fail with a fatal error. */
  failing: () => {
    const failedOnce = new Set();
    return async (record) => {
      const b = bucket(record.id);
      if (b === 99) throw new PermanentError(`record ${record.id} is invalid`);
      if (b < 5 && !failedOnce.has(record.id)) {
        failedOnce.add(record.id);
        throw new TransientError(`record ${record.id}: service unavailable`);
      }
    };
  },

  /** Waits 2 ms, as a call to a nearby service would. */
  io: () => () => new Promise((resolve) => setTimeout(resolve, 2)),
};

export const HANDLER_NAMES = Object.keys(handlers);
