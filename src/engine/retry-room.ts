/**
 * How many records may wait to retry before the reader waits for one of them. Records waiting to
 * retry hold no slot, so without a bound an outage would reach the whole input before the breaker
 * had its evidence (a first failure that will be retried is no evidence on its own: a service where
 * every record needs one retry is serving; breaker-control.ts).
 *
 * The base bound is {@link RETRY_WAITING_PER_SLOT} records per slot of the limit. Alone, it also
 * caps a run on a flaky but serving upstream: with records failing once at a rate of r a second and
 * a retry delay of d, about r × d records wait at any time, and past the bound the reader stops until
 * a wait ends. At 5% of records failing once, 10 ms apart, concurrency 8, that is 40 records waiting
 * and at most 64,000 records/s, whatever the handler costs (measured: 62,555 records/s on
 * bench/compare's failing handler, the CPU idle half the time). So the room grows while retries are
 * served: each retry that succeeds raises it to twice the records waiting at that moment (it doubles
 * while the reader is held at the bound), up to {@link MAX_EXTRA_RETRY_WAITING} above the base; each
 * retry that fails with an error that may be systemic halves what was added. An outage that follows a
 * flaky spell therefore reaches at most the base plus twice the most records that waited while
 * retries were served, and the room is back near the base after a dozen failed retries.
 */

/** Records waiting to retry per slot of the limit, beside the one running in it, before any retry was served. */
export const RETRY_WAITING_PER_SLOT = 4;

/** The most the room grows above the base: the records a served retry rate may keep waiting (each holds its record). */
export const MAX_EXTRA_RETRY_WAITING = 10_000;

export class RetryRoom {
  private extra = 0;

  /** Whether `running` records holding a slot and `waiting` records waiting to retry fill the room at a limit of `limit` slots. */
  full(running: number, waiting: number, limit: number): boolean {
    return running + waiting >= (1 + RETRY_WAITING_PER_SLOT) * limit + this.extra;
  }

  /** Records the room holds above the base now. */
  get extraRoom(): number {
    return this.extra;
  }

  /**
   * A retry ended while `waiting` records wait to retry: `served` when it succeeded (the room grows
   * to twice those waiting), false when it failed with an error that may be systemic (it halves).
   */
  retryEnded(served: boolean, waiting: number): void {
    this.extra = served ? Math.min(MAX_EXTRA_RETRY_WAITING, Math.max(this.extra, 2 * waiting)) : this.extra >>> 1;
  }
}
