/**
 * The run lease: "one run at a time" as a heartbeat with an expiry and a fencing token. This module
 * is the policy (what is expired, what a takeover does to the token, what the messages say); each
 * ledger backend stores the lease and checks the token in the same transaction as its writes.
 *
 * Why not a process id: containers reuse PID 1, rescheduled pods change hostnames, and a stopped
 * process (SIGSTOP, a debugger, a frozen VM) is "alive" for ever. A lease that its holder must keep
 * renewing tells a crashed holder from a working one without asking the operating system, and the
 * token tells a holder that wakes up after its lease was taken that it must not write any more.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LedgerError } from '../errors.js';
import type { SourceFingerprint } from '../sources/source.js';
import type { LeaseHolder } from './ledger.js';
import { checkInteger, checkKnownKeys } from '../validation/check.js';

/** How long a lease lasts and how often its holder renews it. */
export interface LeaseOptions {
  /**
   * A lease not renewed for this long is expired: another run takes the ledger over. Shorter
   * means a faster takeover after a crash; a holder whose event loop is blocked longer than this
   * (a synchronous handler, a long GC pause) loses the ledger and stops. @default 15000
   */
  expireMs?: number;
  /** How often the holder renews its lease; at most a third of `expireMs`. @default 5000 */
  renewEveryMs?: number;
}

export interface ResolvedLeaseOptions {
  readonly expireMs: number;
  readonly renewEveryMs: number;
}

export const DEFAULT_LEASE: ResolvedLeaseOptions = Object.freeze({ expireMs: 15_000, renewEveryMs: 5_000 });

/** The bounds of a lease's expiry, in ms: what `resolveLeaseOptions` and the CLI's `--lease` accept. */
export const LEASE_EXPIRY_MS = Object.freeze({ min: 100, max: 24 * 3600_000 });

/** Applies the defaults and checks the bounds (ConfigError naming the field). */
export function resolveLeaseOptions(options: LeaseOptions | undefined, field = 'lease'): ResolvedLeaseOptions {
  if (options === undefined) return DEFAULT_LEASE;
  checkKnownKeys(options, field, ['expireMs', 'renewEveryMs']);
  const expireMs = checkInteger(options.expireMs, `${field}.expireMs`, DEFAULT_LEASE.expireMs, LEASE_EXPIRY_MS.min, LEASE_EXPIRY_MS.max);
  // The default renewal keeps the default ratio: three renewals fit in one expiry.
  const renewEveryMs = checkInteger(options.renewEveryMs, `${field}.renewEveryMs`, Math.floor(expireMs / 3), 1, Math.floor(expireMs / 3));
  return Object.freeze({ expireMs, renewEveryMs });
}

/** The lease as stored: who holds the ledger, until when, and with which token. */
export interface Lease {
  readonly runId: string;
  /** Random per run: the identity, which no process id reuse can forge. */
  readonly owner: string;
  /** For people only (messages, `status`): never used to decide anything. */
  readonly pid: number;
  readonly host: string;
  /** Incremented at each acquisition: a commit carrying an older token is refused. */
  readonly token: number;
  readonly acquiredAtMs: number;
  readonly renewedAtMs: number;
  readonly expiresAtMs: number;
}

/** A new owner identity for this process's run. */
export function newOwner(): { owner: string; pid: number; host: string } {
  return { owner: randomUUID(), pid: process.pid, host: hostname() };
}

/** The lease a run takes now, given the last token ever handed out (0 when none). */
export function acquireLease(
  runId: string,
  who: { owner: string; pid: number; host: string },
  lastToken: number,
  nowMs: number,
  options: ResolvedLeaseOptions,
): Lease {
  return { runId, ...who, token: lastToken + 1, acquiredAtMs: nowMs, renewedAtMs: nowMs, expiresAtMs: nowMs + options.expireMs };
}

/** The same lease renewed now. */
export function renewLease(lease: Lease, nowMs: number, options: ResolvedLeaseOptions): Lease {
  return { ...lease, renewedAtMs: nowMs, expiresAtMs: Math.max(lease.expiresAtMs, nowMs + options.expireMs) };
}

export function isExpired(lease: Lease, nowMs: number): boolean {
  return nowMs >= lease.expiresAtMs;
}

/**
 * Whether a holder may still write files outside the ledger's transactions (the output, the key
 * file): only while its lease has at least `renewEveryMs` left, so a taker, which waits for the
 * expiry, cannot start before those writes are done unless the holder freezes between this check
 * and the write for that long (docs/leases.md).
 */
export function hasMarginLeft(lease: Lease, nowMs: number, options: ResolvedLeaseOptions): boolean {
  return lease.expiresAtMs - nowMs >= options.renewEveryMs;
}

/**
 * What a run that finds the ledger held does: take it (free or expired lease, or `--take-over`),
 * or wait for the expiry, watching for a renewal. A lease renewed while it waits has a live
 * holder: the run is refused.
 */
export function decideTake(current: Lease | undefined, nowMs: number, takeOver: boolean): 'take' | 'wait' {
  if (current === undefined || takeOver || isExpired(current, nowMs)) return 'take';
  return 'wait';
}

const iso = (ms: number): string => new Date(ms).toISOString();

function describeHolder(lease: Lease): string {
  return `run ${lease.runId} (pid ${lease.pid} on ${lease.host}, since ${iso(lease.acquiredAtMs)})`;
}

/** How often a run waiting for an expiry looks at the lease again, at most. */
const WAIT_POLL_MS = 500;

/** What a run waiting for a held lease is told, and what stops its wait. */
export interface LeaseWaiting {
  /** Aborted: the wait ends at once, throwing the signal's reason (a Ctrl-C while waiting). */
  readonly signal?: AbortSignal;
  /** Called once, when the run starts waiting for `holder`'s lease to expire. */
  readonly onWait?: (holder: LeaseHolder) => void;
}

/** Whether `error` is the reason of the signal that ended `start`'s wait for a lease: the caller's stop, thrown as it is. */
export function stoppedWaiting(start: { readonly waiting?: LeaseWaiting }, error: unknown): boolean {
  const signal = start.waiting?.signal;
  return signal?.aborted === true && error === signal.reason;
}

/**
 * A run that must wait for `held` to expire (decideTake said so): throws LEDGER_LOCKED when its
 * holder renewed it since the last look (`seen`: the holder is alive), and otherwise waits until
 * about its expiry, at most WAIT_POLL_MS, before the next look. Returns what was seen, for the next
 * call. `nowMs` is the clock the expiry is judged on (the database's, for PostgreSQL). `waiting`
 * hears of the first wait, and its signal ends the wait.
 */
export async function waitForExpiry(
  held: Lease,
  seen: Lease | undefined,
  nowMs: number,
  location: string,
  waiting: LeaseWaiting = {},
): Promise<Lease> {
  if (seen && (held.owner !== seen.owner || held.renewedAtMs !== seen.renewedAtMs)) throw heldError(location, held, nowMs);
  if (seen === undefined) waiting.onWait?.(leaseHolder(held) as LeaseHolder);
  waiting.signal?.throwIfAborted();
  await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_POLL_MS, Math.max(1, held.expiresAtMs - nowMs + 1))));
  waiting.signal?.throwIfAborted();
  return held;
}

/** The holder's heartbeat: `renew` every `everyMs` from `start()` to `stop()`. */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly renew: () => void,
    private readonly everyMs: number,
  ) {}

  start(): void {
    this.stop();
    this.timer = setInterval(this.renew, this.everyMs);
    // The heartbeat alone must not keep a finished process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The lease in force as `Ledger.holder()` reports it, or undefined when none is; `gone`: its holder's process is known to be gone. */
export function leaseHolder(lease: Lease | undefined, gone = false): LeaseHolder | undefined {
  if (!lease) return undefined;
  return {
    runId: lease.runId,
    pid: lease.pid,
    host: lease.host,
    acquiredAt: iso(lease.acquiredAtMs),
    expiresAt: iso(lease.expiresAtMs),
    token: lease.token,
    ...(gone ? { gone: true as const } : {}),
  };
}

/** The refusal when the holder renewed its lease while this run waited: it is working. */
export function heldError(location: string, lease: Lease, nowMs: number): LedgerError {
  const seconds = Math.max(0, Math.ceil((lease.expiresAtMs - nowMs) / 1000));
  return new LedgerError(
    'LEDGER_LOCKED',
    `the ledger ${location} is held by ${describeHolder(lease)}, which renewed its lease at ${iso(lease.renewedAtMs)}: ` +
      `it is running. Its lease expires at ${iso(lease.expiresAtMs)} (in ${seconds} s) unless renewed again. ` +
      'Let that run finish, or stop it (Ctrl-C or SIGTERM where it runs) and run again; if you are sure it can never write again ' +
      '(its machine is gone), `run --take-over` takes the ledger now and that run, should it wake, stops without writing',
  );
}

/** The error of a holder that finds its lease taken (or the ledger released) by another run. */
export function lostError(location: string, mine: Lease, current: Lease | undefined): LedgerError {
  const now = current
    ? `it is now held by ${describeHolder(current)} with token ${current.token}`
    : 'another run has since taken it and released it';
  return new LedgerError(
    'LEDGER_LEASE_LOST',
    `this run (${mine.runId}, token ${mine.token}) lost its lease on the ledger ${location}: it was not renewed before ${iso(mine.expiresAtMs)} ` +
      `(the process was stopped or its event loop blocked) and ${now}. This run stopped without writing anything more; ` +
      'what it recorded before is kept. Run `status` to see the job',
  );
}

/** What changed between two fingerprints of a source, or undefined when nothing did. */
export function describeDrift(before: SourceFingerprint, now: SourceFingerprint): string | undefined {
  const changes: string[] = [];
  if (before.description !== now.description) changes.push(`it was ${before.description}, now ${now.description}`);
  if (before.size !== now.size) changes.push(`size ${before.size} → ${now.size} bytes`);
  if (before.sampleHash !== now.sampleHash) changes.push('its first 64 KiB differ');
  // mtime alone (a `touch`, a copy) is not drift when size and content sample agree.
  return changes.length > 0 ? changes.join('; ') : undefined;
}

/** What `--accept-drift` does, said the same way wherever drift is reported. */
export const ACCEPT_DRIFT_DOES =
  'With --accept-drift, batchguard reads the whole source once and matches what the ledger recorded to its records by key: ' +
  'a record whose key already has an outcome keeps it wherever it now is and is not processed again; a record with a new key is processed; ' +
  'the outcomes of keys no longer in the source are dropped from the counts (past run reports keep them); ' +
  'a line that cannot be parsed is matched by its line number. Otherwise restore the original source, or use a new ledger to start over';
