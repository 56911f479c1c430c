/**
 * Drives the circuit breaker during a run: feeds it attempt outcomes, decides which records an
 * outage parks (the dispatcher keeps them; they never reach the failure report), probes on a backoff
 * schedule (the health check, or a parked or fresh record), has the parked records released when the
 * breaker closes, and aborts the run when it stays open past `maxOpenMs`.
 *
 * A parked record that fails its probe after the service was seen serving since the breaker opened
 * (a probe or a record in flight succeeded) fails on its own: the probe says nothing about the
 * service, and the record goes on with its attempts instead of being parked again. Without that, a
 * record that always fails would fail every probe it is given, and keep the breaker open for ever.
 *
 * With a shared breaker (`run --worker`, shared-breaker.ts), the decisions are the run's, all
 * workers together: a trip here opens the shared breaker, the shared breaker opening opens this one
 * (records parked, intake stopped), only the worker holding the right to probe probes, its close
 * closes every worker's breaker, and `maxOpenMs` counts from the shared breaker's opening, so that
 * every worker gives up at the same time. The shared state arrives by `watch` (the worker's
 * heartbeat); nothing here waits for it on the way of a record.
 */
import type { Clock } from '../clock.js';
import type { Job } from '../job.js';
import { BreakerState, BreakerTripReason, CircuitBreaker, type Signal, type Trip } from '../policy/breaker.js';
import type { SerializedError } from '../policy/serialize-error.js';
import type { EngineEvents } from './events.js';
import { checkOnce } from '../policy/health-check.js';
import type { OpenRecord } from './open-record.js';
import type { SystemicFailure } from './executor-deps.js';
import type { LazySerializedError } from './stored-error.js';
import { sharedTrip, type SharedBreaker, type SharedBreakerState } from './shared-breaker.js';

/** What a success tells the breaker: one frozen object, not one per record. */
const SUCCESS: Signal = Object.freeze({ ok: true });

/** The three ways a held record can end. */
export interface HeldEnds {
  fail(): void;
  park(): void;
  pend(): void;
}

/** What the breaker asks of the dispatcher, which keeps the parked records. */
export interface BreakerHooks {
  /** Records parked now. */
  parked(): number;
  /** Attempts in flight now. */
  running(): number;
  /** The breaker closed: the parked records run again. Returns how many. */
  release(): number;
  /** Takes the record for the next probe: parked and fresh records in turn. */
  takeProbe(): OpenRecord | undefined;
  /** Runs the probe. */
  probeWith(entry: OpenRecord): void;
  /** The breaker stayed open too long: abort the run. */
  abort(trip: Trip, error: SerializedError | undefined): void;
  /** Something the read loop may be waiting for changed. */
  wake(): void;
}

export class BreakerControl {
  private readonly breaker: CircuitBreaker;
  /** The parked record whose attempt is the probe, while it runs. */
  private probing: OpenRecord | undefined;
  private held: (HeldEnds & { entry: OpenRecord })[] = [];
  private readonly streakRecords = new Set<string>();
  private cancelHeld: (() => void) | undefined;
  private cancelProbe: (() => void) | undefined;
  private stopped = false;
  /** The error of the attempt that tripped the breaker, for the summary. */
  tripError: SerializedError | undefined;
  /** The last systemic error seen while closed: names a trip that a success completed (serialised only then). */
  private lastError: LazySerializedError | undefined;
  /** An attempt succeeded since the breaker last opened: the service serves some records. */
  private served = false;
  /** Counts opens and closes: a probe decided before one of them is no longer the current one. */
  private epoch = 0;
  private unwatch: (() => void) | undefined;
  /** This run's trip could not be published: published again when the shared breaker is seen closed. */
  private unpublished: Trip | undefined;
  /** The breaker this run shares with other workers, from start() on. */
  private shared: SharedBreaker | undefined;

  constructor(
    private readonly job: Job<any, any>,
    private readonly clock: Clock,
    private readonly events: EngineEvents,
    private readonly hooks: BreakerHooks,
  ) {
    this.breaker = new CircuitBreaker(job.breaker);
  }

  /** The run starts reading: with a shared breaker, this one follows it from now on (open already, it opens at once). */
  start(shared: SharedBreaker | undefined): void {
    if (!shared || !this.job.breaker.enabled) return;
    this.shared = shared;
    this.unwatch = shared.watch((state) => this.follow(state));
    const now = shared.current();
    if (now) this.follow(now);
  }

  /** The run's loop ended: a shared breaker is no longer followed, nor probed for this run. */
  detach(): void {
    if (!this.shared) return;
    this.stop();
  }

  get closed(): boolean {
    return this.breaker.state === BreakerState.closed;
  }

  get state(): BreakerState {
    return this.breaker.state;
  }

  get trips(): number {
    return this.breaker.trips;
  }

  get lastTrip(): Trip | undefined {
    return this.breaker.trip;
  }

  /** Whether this record's attempt is the probe (it runs while the breaker is not closed). */
  isProbe(entry: OpenRecord): boolean {
    return this.probing === entry;
  }

  /** An attempt succeeded. */
  succeeded(entry: OpenRecord): void {
    // Off, it has nothing to learn, no probe and no held record: a success costs this check.
    if (!this.job.breaker.enabled) return;
    if (this.probing === entry) {
      this.probing = undefined;
      this.served = true;
      this.probeResult(true);
    } else if (!this.closed) {
      this.served = true;
    } else {
      // A success can complete a trip: the window reaching minRecords with the rate already over.
      const trip = this.breaker.record(SUCCESS, this.clock);
      if (trip) this.opened(trip, this.lastError);
      else if (this.held.length > 0) this.releaseHeld('fail');
    }
  }

  /**
   * A record is about to fail for good (attempts used up) with a systemic error while such failures
   * are running in a row: is it the record, or the start of an outage the breaker has not named
   * yet? Held until the breaker decides: parked if it opens, failed at the next success (or when
   * nothing else can give a verdict: awaitVerdict). Returns false when there is nothing to wait for.
   */
  hold(entry: OpenRecord, ends: HeldEnds): boolean {
    if (!this.job.breaker.enabled || !this.closed || this.stopped || this.breaker.failuresInARow === 0) return false;
    // One record failing again and again by itself is no outage. One that fails for good at its first
    // call (no retries, or a Retry-After past maxElapsedMs) may be the first an outage hits: held too,
    // or it alone of the outage's records would end failed.
    if (this.streakRecords.size < 2 && entry.attempt > 1) return false;
    this.held.push({ entry, ...ends });
    if (this.cancelHeld === undefined) this.awaitVerdict();
    return true;
  }

  /**
   * Held records fail after `probeDelayMs` without a success or a trip, unless a verdict may still
   * come: the failures in a row went on meanwhile, or attempts are still in flight (each will end in
   * a success or in one more failure in a row). A fixed wait failed them in a slow outage (calls
   * that take seconds to fail), where the failures that open the breaker come after it. They wait
   * `maxOpenMs` at most, as long as the breaker would stay open.
   */
  private awaitVerdict(since = this.clock.now()): void {
    const inARow = this.breaker.failuresInARow;
    this.cancelHeld = this.clock.timer(this.job.breaker.probeDelayMs, () => {
      const mayCome = this.breaker.failuresInARow > inARow || this.hooks.running() > 0;
      if (this.closed && mayCome && this.clock.now() - since < this.job.breaker.maxOpenMs) this.awaitVerdict(since);
      else this.releaseHeld('fail');
    });
  }

  private releaseHeld(how: 'fail' | 'park' | 'pend'): void {
    this.cancelHeld?.();
    this.cancelHeld = undefined;
    const held = this.held;
    this.held = [];
    for (const record of held) record[how]();
  }

  /**
   * An attempt failed with a retryable error or a timeout. Returns true when the record must be
   * parked (the breaker is open, or this failure opened it) instead of retried or failed.
   */
  systemicFailure(entry: OpenRecord, group: () => string, error: LazySerializedError, how: SystemicFailure): boolean {
    if (this.probing === entry) {
      this.probing = undefined;
      if ((this.served && !how.fresh) || how.repeated) {
        // The record's own failure: no verdict on the service; the next probe at once.
        this.probe();
        return false;
      }
      this.probeResult(false);
      return true;
    }
    if (!this.closed) return true;
    // Evidence counts once: the failures of a record released after a trip were counted for it.
    // Records that fail on their own, released together, would otherwise open it again at once. A
    // re-run's record failing as it did before is its own failure, as a fatal error is: no evidence.
    if (entry.released || how.repeated) return false;
    this.lastError = error;
    const trip = this.breaker.record(
      { ok: false, fingerprint: group, final: how.final, provisional: how.provisional, fresh: how.fresh },
      this.clock,
    );
    // Which records the current run of failures spans: one flaky record alone is no outage.
    if (this.breaker.failuresInARow === 1) this.streakRecords.clear();
    if (this.streakRecords.size < 2) this.streakRecords.add(entry.key);
    if (!trip) return false;
    this.opened(trip, error);
    return true;
  }

  private opened(trip: Trip, lazyError: LazySerializedError | undefined): void {
    this.epoch++;
    const error = lazyError?.value;
    this.tripError = error;
    this.served = false;
    if (this.shared && trip.reason !== BreakerTripReason.shared) this.publishTrip(trip);
    this.releaseHeld('park');
    const shown = error ?? { name: 'Error', message: trip.description };
    this.events.emit({
      type: 'breaker:opened',
      reason: trip.reason,
      description: trip.description,
      fingerprint: trip.fingerprint,
      failures: trip.failures,
      window: trip.window,
      error: shown,
    });
    this.scheduleProbe();
  }

  /** The run is stopping: no more probes; parked records stay pending. */
  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    this.cancelProbe?.();
    this.releaseHeld('pend');
  }

  private scheduleProbe(): void {
    this.cancelProbe?.();
    if (this.stopped) return;
    const now = this.clock.now();
    if (this.breaker.expired(now)) {
      this.hooks.abort(this.breaker.trip as Trip, this.tripError);
      return;
    }
    const openFor = now - this.breaker.openedAt;
    const delay = Math.min(this.breaker.nextProbeDelayMs(), Math.max(0, this.job.breaker.maxOpenMs - openFor));
    this.cancelProbe = this.clock.timer(delay, () => this.probe());
  }

  private probe(): void {
    this.cancelProbe = undefined;
    if (this.stopped) return;
    if (this.breaker.expired(this.clock.now())) {
      this.hooks.abort(this.breaker.trip as Trip, this.tripError);
      return;
    }
    if (this.shared) this.claimProbe(this.shared);
    else this.probeNow();
  }

  private probeNow(): void {
    this.breaker.halfOpen();
    this.events.emit({ type: 'breaker:half-open', parked: this.hooks.parked() });
    const check = this.job.healthCheck;
    if (check) {
      const epoch = this.epoch;
      void checkOnce(check, this.job.healthCheckPolicy.timeoutMs, this.clock).then((result) => {
        if (epoch !== this.epoch) return;
        if (result.ok) this.served = true;
        this.probeResult(result.ok);
      });
      return;
    }
    const entry = this.hooks.takeProbe();
    if (!entry && this.shared) {
      // Not for every worker to decide on no evidence: wait for the next probe, or the others'.
      this.scheduleProbe();
      return;
    }
    if (!entry) {
      // Nothing to probe with: let intake go on; the next failures trip the breaker again.
      this.probeResult(true, true);
      return;
    }
    this.probing = entry;
    this.hooks.probeWith(entry);
  }

  private probeResult(ok: boolean, force = false): void {
    if (this.stopped) return;
    const state = force ? this.closeNow() : this.breaker.probe(ok);
    if (state === BreakerState.closed) {
      this.epoch++;
      const openMs = this.clock.now() - this.breaker.openedAt;
      this.events.emit({ type: 'breaker:closed', openMs, released: this.hooks.parked() });
      this.hooks.release();
      this.hooks.wake();
      if (this.shared) this.publishClose(this.shared);
    } else if (state === BreakerState.halfOpen) {
      this.probe(); // the next probe at once: closing takes several successes
    } else {
      this.scheduleProbe();
    }
  }

  private closeNow(): BreakerState {
    let state = this.breaker.probe(true);
    while (state === BreakerState.halfOpen) state = this.breaker.probe(true);
    return state;
  }

  /** The right to probe is the shared breaker's: taken before every probe, by one worker at a time. */
  private claimProbe(shared: SharedBreaker): void {
    // Nothing to probe with yet (intake takes a fresh record while open): no right to take.
    if (!this.job.healthCheck && this.hooks.parked() === 0) {
      this.scheduleProbe();
      return;
    }
    const epoch = this.epoch;
    const waitOrProbe = (mine: boolean): void => {
      if (this.stopped || epoch !== this.epoch || this.cancelProbe !== undefined) return;
      // Another worker probes: this one waits for its verdict (the shared breaker closing), or for its right to lapse.
      if (mine) this.probeNow();
      else this.scheduleProbe();
    };
    shared.tryProbe(this.probeMs()).then(waitOrProbe, () => waitOrProbe(false));
  }

  /** The longest one probe can take: the health check's time limit, or an attempt's (swept a tenth of it late at most). */
  private probeMs(): number {
    if (this.job.healthCheck) return this.job.healthCheckPolicy.timeoutMs;
    return this.job.timeoutMs + Math.min(1000, this.job.timeoutMs / 10);
  }

  private publishTrip(trip: Trip): void {
    this.unpublished = undefined;
    (this.shared as SharedBreaker).publishTrip(trip).catch(() => {
      this.unpublished = trip;
    });
  }

  private publishClose(shared: SharedBreaker): void {
    // Not closed for the others (this worker lost its right, or the store is unreachable): the next
    // state read shows the shared breaker open, and this one follows it again.
    shared.publishClose().catch(() => false);
  }

  /** A state of the shared breaker, read by the worker's heartbeat. */
  private follow(state: SharedBreakerState): void {
    if (this.stopped) return;
    const now = this.clock.now();
    if (!state.open) {
      if (this.closed) return;
      if (this.unpublished) this.publishTrip(this.unpublished);
      else this.closeWithOthers(now);
      return;
    }
    this.unpublished = undefined;
    const openedAt = now - state.openMs;
    if (this.closed) {
      this.breaker.open(sharedTrip(state), openedAt);
      this.opened(sharedTrip(state), undefined);
      return;
    }
    if (openedAt < this.breaker.openedAt) this.breaker.openSince(openedAt);
    // Open past maxOpenMs since the shared breaker opened: every worker gives up now.
    if (this.breaker.state === BreakerState.open && this.breaker.expired(now)) {
      this.cancelProbe?.();
      this.cancelProbe = undefined;
      this.hooks.abort(this.breaker.trip as Trip, this.tripError);
    }
  }

  /** Another worker's probes closed the shared breaker: this one closes and releases its parked records. */
  private closeWithOthers(now: number): void {
    this.epoch++;
    this.cancelProbe?.();
    this.cancelProbe = undefined;
    // A probe of this worker's still running ends as an ordinary attempt.
    this.probing = undefined;
    this.breaker.close();
    this.events.emit({ type: 'breaker:closed', openMs: now - this.breaker.openedAt, released: this.hooks.parked() });
    this.hooks.release();
    this.hooks.wake();
  }
}
