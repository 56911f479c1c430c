/**
 * The breaker of a run shared by several processes (`run --worker`): the port through which a run's
 * own breaker (breaker-control.ts) publishes its decisions and follows the others'. The engine knows
 * no backend: the worker wires the port to its worker ledger (src/distributed/shared-breaker-link.ts).
 *
 * The port is read synchronously and polled by its owner on its own timer (the worker's heartbeat),
 * never per record: a run without one (every single-process run) pays nothing, and one with it adds
 * no await to an attempt. Its writes happen at the breaker's rare decision points only: a trip, a
 * probe, a close.
 */
import { BreakerTripReason, type Trip } from '../policy/breaker.js';

/** The shared breaker as its owner last read it. */
export interface SharedBreakerState {
  readonly open: boolean;
  /** How long it had been open when it was read (0 when closed), by the store's clock. */
  readonly openMs: number;
  /** Who opened it and why, as the worker that opened it published it. */
  readonly reason: string | undefined;
}

/** What a run's breaker asks of the breaker it shares with other processes. */
export interface SharedBreaker {
  /** The state last read; undefined before the first read. */
  current(): SharedBreakerState | undefined;
  /** Calls `listener` with every state read from now on; returns the function that stops it. */
  watch(listener: (state: SharedBreakerState) => void): () => void;
  /** This run's breaker opened on its own evidence: open the shared one (nothing when it is open already). */
  publishTrip(trip: Trip): Promise<void>;
  /**
   * Takes (or keeps) the right to probe, long enough for one probe that lasts at most `probeMs`;
   * false while another process holds it.
   */
  tryProbe(probeMs: number): Promise<boolean>;
  /** This run's probes closed its breaker: close the shared one. False when this process no longer held the probe. */
  publishClose(): Promise<boolean>;
}

/** The trip of a breaker that opened because the shared one did. */
export function sharedTrip(state: SharedBreakerState): Trip {
  return {
    reason: BreakerTripReason.shared,
    description: `another worker opened the run's shared breaker (${state.reason ?? 'no reason given'})`,
    fingerprint: undefined,
    failures: 0,
    window: 0,
  };
}
