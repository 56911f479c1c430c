/**
 * A source that throws while producing its next record (a cursor closed by the server, a file
 * that became unreadable, a generator with a bug) is the source's failure, not the engine's: the
 * run stops taking records, commits what finished, and reports it as a source error (exit code 2).
 * The next run resumes where this one stopped.
 */
import { BatchguardError, SourceError } from '../errors.js';
import { thrownSummary } from '../policy/error-fields.js';

/** Marks an error raised by the source's iterator, as opposed to one raised while handling a record. */
export class SourceFailure {
  constructor(readonly error: unknown) {}
}

/**
 * The error a run reports once it has saved its progress: the source's own `BatchguardError` as is
 * (it already says what is wrong), anything else wrapped in a one-line `SourceError` naming the
 * source and how far it got.
 */
export function sourceFailedError(description: string, recordsRead: number, error: unknown): BatchguardError {
  if (error instanceof BatchguardError) return error;
  const what = thrownSummary(error).replace(/\s+/g, ' ').trim();
  return new SourceError(
    'SOURCE_UNREADABLE',
    `the source ${description} failed after its first ${recordsRead} records: ${what}; the outcomes that finished are saved, and \`run\` resumes once the source works again`,
    { cause: error },
  );
}
