/**
 * Whether `run` joins the job's shared run as a worker or runs as one process. Over a PostgreSQL
 * ledger a run is a worker by default, whenever the job can be shared (a seekable source, no
 * `output`) and no flag a worker refuses is given; otherwise it runs as one process
 * and says why. `--worker` insists (what cannot be shared is an error), `--no-worker` declines;
 * `rerun` is always one process. Any other ledger is one process.
 */
import { shareBlocker } from '../distributed/shareable.js';
import { ConfigError } from '../errors.js';
import type { Job } from '../job.js';
import type { RerunOptions } from '../engine/run-options.js';
import { isDatabaseLedger } from './ledger-path.js';
import type { RunFlags } from './run-command.js';

/** What a worker does instead of a deadline: why `--max-duration`, `--until` and `--max-records` are refused. */
const NO_DEADLINE =
  'a worker takes chunks until the shared run is over; to stop one, interrupt it (SIGINT or SIGTERM: what it committed is kept, and another worker takes its chunk over)';

/** The run flags a worker refuses, and why. */
const NOT_FOR_WORKERS: readonly { readonly flag: string; readonly given: (flags: RunFlags) => boolean; readonly why: string }[] = [
  { flag: '--max-duration', given: (f) => f.maxDuration !== undefined, why: NO_DEADLINE },
  { flag: '--until', given: (f) => f.until !== undefined, why: NO_DEADLINE },
  { flag: '--max-records', given: (f) => f.maxRecords !== undefined, why: NO_DEADLINE },
  { flag: '--limit', given: (f) => f.limit !== undefined, why: NO_DEADLINE },
  {
    flag: '--accept-drift',
    given: (f) => f.acceptDrift === true,
    why: 'workers read the source as the shared run planned it and do not compare it with what the ledger recorded, so there is no change to accept',
  },
  {
    flag: '--take-over',
    given: (f) => f.takeOver === true,
    why: 'a shared run has no run lease to take: workers take over the chunks of a worker whose lease expired on their own',
  },
  { flag: '--alert-webhook', given: (f) => f.alertWebhook !== undefined, why: 'workers send no alerts yet' },
  { flag: '--metrics-port', given: (f) => f.metricsPort !== undefined, why: 'workers serve no metrics yet' },
];

/** Throws the ConfigError of the first run flag that a worker refuses (`run --worker`). */
export function refuseWorkerFlags(flags: RunFlags): void {
  const refused = NOT_FOR_WORKERS.find((entry) => entry.given(flags));
  if (refused !== undefined) {
    throw new ConfigError(`${refused.flag} cannot be used with --worker: ${refused.why}; drop ${refused.flag}, or run without --worker`, {
      field: refused.flag,
    });
  }
}

/** Why a run given `--no-worker` is not a worker. */
export const NO_WORKER_GIVEN = '--no-worker was given';

/** How `run` goes: as a worker of the shared run, or as one process. */
export type RunMode =
  | { readonly kind: 'worker' }
  | {
      readonly kind: 'single';
      /** Over a PostgreSQL ledger: why this run is not a worker (a second process gets the lease error, which says it). */
      readonly notWorker?: string;
      /** True when the run says why on stderr as it starts (the user did not ask for one process). */
      readonly announce?: boolean;
    };

export function chooseRunMode(job: Job<any, any>, ledger: string, flags: RunFlags, rerun: RerunOptions | undefined): RunMode {
  // `--worker` over another ledger is refused where workers open theirs; `rerun --worker` is a shared rerun.
  if (flags.worker === true) return { kind: 'worker' };
  if (!isDatabaseLedger(ledger)) return { kind: 'single' };
  if (rerun !== undefined) return { kind: 'single', notWorker: 'a rerun runs as one process' };
  if (flags.worker === false) return { kind: 'single', notWorker: NO_WORKER_GIVEN };
  const blocker = shareBlocker(job);
  if (blocker !== undefined) return { kind: 'single', notWorker: blocker.why, announce: true };
  const refused = NOT_FOR_WORKERS.find((entry) => entry.given(flags));
  if (refused !== undefined)
    return { kind: 'single', notWorker: `${refused.flag} was given, which a worker refuses: ${refused.why}`, announce: true };
  return { kind: 'worker' };
}
