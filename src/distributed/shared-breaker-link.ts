/**
 * A worker's side of the run's shared breaker: the engine's `SharedBreaker` port
 * (src/engine/shared-breaker.ts) over the worker ledger. One link per worker, for every chunk's run
 * in turn: a chunk's run that starts while the shared breaker is open starts open.
 *
 * States come from the worker's heartbeat (worker-session.ts), which reads the run's shared state
 * anyway: nothing is read per record. A read sent before one of this worker's own writes ended
 * (a trip, a close) may not show it, and would undo what the write decided here (a
 * trip not yet stored would look closed, and close the breaker it just opened): such a read is
 * dropped, and the next heartbeat brings a newer one. Only trips and closes count: a probe claim
 * opens and closes nothing.
 */
import type { Trip } from '../policy/breaker.js';
import type { SharedBreaker, SharedBreakerState } from '../engine/shared-breaker.js';
import type { SharedRunState, WorkerLedger } from '../ledger/worker-ledger.js';

/** What a link needs: the worker ledger, the run, this worker, and how it names itself in a trip. */
export interface SharedBreakerLinkOptions {
  readonly ledger: WorkerLedger;
  readonly runId: string;
  /** This worker's identity in the run (the session's owner). */
  readonly owner: string;
  /** How a trip names the worker that opened the shared breaker (`worker <owner> on <host>`). */
  readonly worker: string;
  /**
   * Added to a probe's own length in the right to probe: a worker whose event loop or database
   * round trip is slow still finishes its probe before another may start one. The chunks' lease.
   */
  readonly slackMs: number;
}

export class SharedBreakerLink implements SharedBreaker {
  private last: SharedBreakerState | undefined;
  private readonly listeners = new Set<(state: SharedBreakerState) => void>();
  private writing = 0;
  private lastWriteEndedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: SharedBreakerLinkOptions) {}

  /** A state the heartbeat read, sent at `sentAtMs` (`performance.now()`); passed on unless a write of this worker may be missing from it. */
  observe(state: SharedRunState, sentAtMs: number): void {
    if (state.status !== 'running') return;
    if (this.writing > 0 || sentAtMs <= this.lastWriteEndedAt) return;
    const seen: SharedBreakerState = {
      open: state.breaker === 'open',
      openMs: state.breakerOpenMs,
      reason: state.breakerReason,
    };
    this.last = seen;
    for (const listener of this.listeners) listener(seen);
  }

  current(): SharedBreakerState | undefined {
    return this.last;
  }

  watch(listener: (state: SharedBreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async publishTrip(trip: Trip): Promise<void> {
    const { ledger, runId, worker } = this.options;
    const reason = `${worker}: ${trip.description}`;
    const opened = await this.write(() => ledger.openBreaker(runId, reason));
    // Open now, whoever opened it: the next chunk's run starts open even before the next heartbeat.
    if (opened || !this.last?.open) this.last = { open: true, openMs: 0, reason: opened ? reason : this.last?.reason };
  }

  tryProbe(probeMs: number): Promise<boolean> {
    const { ledger, runId, owner, slackMs } = this.options;
    // Not a write that a read can undo (it opens and closes nothing): reads racing it are kept.
    return ledger.claimProbe(runId, owner, Math.ceil(probeMs + slackMs));
  }

  async publishClose(): Promise<boolean> {
    const { ledger, runId, owner } = this.options;
    const closed = await this.write(() => ledger.closeBreaker(runId, owner));
    if (closed) this.last = { open: false, openMs: 0, reason: undefined };
    return closed;
  }

  private async write<T>(operation: () => Promise<T>): Promise<T> {
    this.writing++;
    try {
      return await operation();
    } finally {
      this.writing--;
      this.lastWriteEndedAt = performance.now();
    }
  }
}
