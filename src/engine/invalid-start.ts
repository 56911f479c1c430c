/**
 * A run whose first records are (nearly) all invalid has a problem of the job, not of its records: a
 * `key` function reading a field the records lack (every key "undefined", so all but the first fail
 * as duplicates), a JSON file given to `jsonl()`, a CSV read with the wrong delimiter. Going on would
 * record every record of the source as a failure. This watches the first records a run enters and
 * aborts it (exit code 3) when at least 90 of the first 100 were invalid; it then steps aside, so
 * the records after them cost it nothing. A re-run is not watched (its records are failures by
 * choice), nor a job whose breaker is turned off.
 */
import type { EngineEvents } from './events.js';
import type { OpenRecord } from './open-record.js';
import type { RunControl } from './run-control.js';
import type { SourcePosition } from '../sources/source.js';
import type { Redactor } from '../policy/redact.js';
import { limitText } from '../policy/text-limit.js';

/** The records watched, and how many of them invalid abort the run. */
export const INVALID_START = { records: 100, invalid: 90 } as const;

/** The record-entry callbacks it watches (record-entry.ts `EntryDeps`), replaced while it watches. */
interface EntryCallbacks {
  entered: (entry: OpenRecord) => void;
  invalid: (position: SourcePosition, message: string, key?: string) => void;
}

/** Watches `deps`' first entered records: wraps their callbacks, and puts them back once decided. */
export function watchInvalidStart(deps: EntryCallbacks, events: EngineEvents, control: RunControl, redact: Redactor): void {
  const { entered, invalid } = deps;
  let seen = 0;
  let invalidSeen = 0;
  let example = '';
  const decided = (): void => {
    deps.entered = entered;
    deps.invalid = invalid;
  };
  const counted = (): void => {
    if (++seen < INVALID_START.records && INVALID_START.records - seen >= INVALID_START.invalid - invalidSeen) return;
    decided();
    if (invalidSeen < INVALID_START.invalid || control.stopping) return;
    const reason =
      `${invalidSeen} of the first ${seen} records this run read were invalid (${example}): ` +
      "the job's key function or the source's format is wrong, not the records; fix it, then `rerun --failed` processes them and `run` goes on";
    events.emit({ type: 'run:aborted', reason });
    control.end({ kind: 'aborted', reason, by: 'invalid-records' });
  };
  deps.entered = (entry) => {
    entered(entry);
    counted();
  };
  deps.invalid = (position, message, key) => {
    invalid(position, message, key);
    // Redacted as the stored failure is: a parse error may quote the record.
    if (invalidSeen++ === 0) example = limitText(message, 200, redact);
    counted();
  };
}
