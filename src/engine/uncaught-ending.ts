/**
 * An error that escapes the job's code while no record can be blamed (escaped-errors.ts) ends the
 * run as `uncaught`, keeping what is done: the last commit is written and the run can be resumed.
 */
import type { Redactor } from '../policy/redact.js';
import type { EscapeListener } from './escaped-errors.js';
import type { EngineEvents } from './events.js';
import type { RunControl } from './run-control.js';
import { safeSerialize } from './stored-error.js';

/** The listener that turns an unattributable escape into the run's ending (the first one wins). */
export function uncaughtEndsRun(control: RunControl, events: EngineEvents, redact: Redactor | undefined): EscapeListener {
  return {
    uncaught: (error, origin) => {
      if (control.ending?.kind === 'uncaught') return;
      const serialized = safeSerialize(error, redact);
      events.emit({ type: 'run:uncaught-error', error: serialized, origin });
      const where = origin === undefined ? 'outside any record' : `from ${origin}`;
      control.end({ kind: 'uncaught', reason: `an error escaped the job's code ${where}: ${serialized.name}: ${serialized.message}` });
    },
  };
}
