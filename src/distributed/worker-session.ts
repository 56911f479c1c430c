/**
 * One worker's part in a shared run: it joins (or plans) the run, takes chunks one after another,
 * keeps their leases alive by heartbeat, writes only through the fence, and follows the run's
 * shared state (breaker, abort, completion), which it reads at every heartbeat.
 *
 * What the worker does with a chunk (runs its records, commits outcomes) is the caller's: this
 * class only says which chunks are still its own. A chunk whose lease is lost (the heartbeat was
 * refused, or a fenced write was) is dropped from `held` at once and reported through `onLost`;
 * the caller stops working on it and writes nothing more for it.
 */
import { randomUUID } from 'node:crypto';
import { LedgerError } from '../errors.js';
import type { SeqRange } from '../ledger/ledger.js';
import {
  leaseLost,
  type ChunkPlan,
  type FencedWrites,
  type HeldChunk,
  type JoinedRun,
  type LeasedChunk,
  type SharedRunState,
  type WorkerLedger,
} from '../ledger/worker-ledger.js';

/** Options of {@link WorkerSession.join}. */
export interface WorkerSessionOptions {
  /** The job's worker ledger (openWorkerLedger): where the run, its chunks and their leases are. */
  readonly ledger: WorkerLedger;
  /** A chunk whose lease is not renewed for this long is taken over by another worker. @default 15000 */
  readonly leaseMs?: number;
  /** How often leases are renewed and the shared state read; at most a third of `leaseMs`. @default leaseMs / 3 */
  readonly renewEveryMs?: number;
  /** Called when a chunk's lease is lost; the caller stops working on it. */
  readonly onLost?: (chunk: number, error: LedgerError) => void;
  /**
   * Called with the run's shared state after every heartbeat, and when (`performance.now()`) its
   * read was sent: a read sent before a write of this worker ended may not show that write.
   */
  readonly onState?: (state: SharedRunState, readSentAtMs: number) => void;
  /** Called when a heartbeat cannot reach the database (the fence still protects every write). */
  readonly onHeartbeatError?: (error: unknown) => void;
  /** The rerun this worker was started for (rerun-chunk-plan.ts, rerunIdentity); undefined for a run. */
  readonly rerun?: string;
}

/** What {@link WorkerSession.next} found: a chunk, nothing to take now (others hold the rest), or the run's end. */
export type NextChunk =
  | { readonly kind: 'chunk'; readonly lease: LeasedChunk }
  | { readonly kind: 'wait' }
  | { readonly kind: 'ended'; readonly state: SharedRunState };

export class WorkerSession {
  /** This worker's identity in the run (random: a pid identifies nothing across machines). */
  readonly owner = randomUUID();
  private readonly holding = new Map<number, number>();
  /**
   * Chunks whose write marking them done is on its way. Once it committed, the chunk's lease is no
   * longer renewed (it is done, not lost): a heartbeat between that commit and the chunk's release
   * leaves it alone. The write itself says when the lease was lost.
   */
  private readonly finishing = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private readonly leaseMs: number;
  private readonly renewEveryMs: number;

  private constructor(
    private readonly options: WorkerSessionOptions,
    private joinedRun: JoinedRun | undefined,
  ) {
    this.leaseMs = options.leaseMs ?? 15_000;
    this.renewEveryMs = Math.min(options.renewEveryMs ?? Math.floor(this.leaseMs / 3), Math.floor(this.leaseMs / 3));
  }

  /**
   * Joins the job's running run, planning it with `plan` when there is none (`runOptions` are
   * stored with a new run); starts the heartbeat.
   */
  static async join(
    options: WorkerSessionOptions,
    plan: () => Promise<ChunkPlan>,
    runOptions: Record<string, unknown> = {},
    newRunId: string = randomUUID(),
  ): Promise<WorkerSession> {
    const session = new WorkerSession(options, undefined);
    session.joinedRun = await options.ledger.joinRun({
      owner: session.owner,
      newRunId,
      plan,
      runOptions,
      ...(options.rerun === undefined ? {} : { rerun: options.rerun }),
    });
    session.timer = setInterval(() => void session.heartbeat(), session.renewEveryMs);
    return session;
  }

  get run(): JoinedRun {
    return this.joinedRun as JoinedRun;
  }

  /** The chunks this worker holds now. */
  get held(): HeldChunk[] {
    return [...this.holding].map(([chunk, token]) => ({ chunk, token }));
  }

  /** Whether this worker still holds `chunk` (with the token it was leased with). */
  holds(lease: LeasedChunk): boolean {
    return this.holding.get(lease.chunk.index) === lease.token;
  }

  /**
   * Takes the next chunk; when none can be taken, says whether the run ended or others still hold
   * chunks. The lease itself refuses a run that is not running any more (aborted, completed): the
   * state is read only when no chunk was taken.
   */
  async next(): Promise<NextChunk> {
    const { ledger } = this.options;
    const lease = await ledger.leaseChunk(this.run.runId, this.owner, this.leaseMs);
    if (lease !== undefined) {
      this.holding.set(lease.chunk.index, lease.token);
      return { kind: 'chunk', lease };
    }
    if (await ledger.completeRun(this.run.runId)) return { kind: 'ended', state: this.mustExist(await this.state()) };
    const now = this.mustExist(await this.state());
    return now.status === 'running' ? { kind: 'wait' } : { kind: 'ended', state: now };
  }

  /**
   * Runs `write` in one transaction fenced by the leases of `chunks` (all of them must still be
   * this worker's). A lost lease drops every chunk of the write (the fence does not say which one it
   * was; a chunk dropped while still held expires and is taken over, which costs time, not
   * correctness), calls `onLost`, and rethrows.
   */
  async write<T>(chunks: readonly LeasedChunk[], write: (writes: FencedWrites) => Promise<T>): Promise<T> {
    const held = chunks.map((c) => ({ chunk: c.chunk.index, token: c.token }));
    try {
      return await this.options.ledger.fenced(this.run.runId, this.owner, held, write);
    } catch (error) {
      if (error instanceof LedgerError && error.code === 'LEDGER_LEASE_LOST') {
        for (const chunk of chunks) this.lose(chunk.chunk.index, chunk.token, error);
      }
      throw error;
    }
  }

  /**
   * The sequence numbers in `first` … `last` that already have an outcome (a worker that held the
   * chunk before recorded them). Read after the lease, without a fence (WorkerLedger.recordedIn).
   */
  recordedIn(first: number, last: number): Promise<SeqRange[]> {
    return this.options.ledger.recordedIn(first, last);
  }

  /** Of `seqs`, those whose latest outcome this run recorded (a shared rerun's records re-run already). */
  recordedByRun(seqs: readonly number[]): Promise<number[]> {
    return this.options.ledger.recordedByRun(this.run.runId, seqs);
  }

  /** Marks `chunk` done (by `write`, with its last outcomes, when given) and lets it go. */
  async finishChunk(lease: LeasedChunk, write?: (writes: FencedWrites, done: HeldChunk) => Promise<void>): Promise<void> {
    const chunk = lease.chunk.index;
    const done = { chunk, token: lease.token };
    this.finishing.add(chunk);
    try {
      // `write` marks the chunk done itself, with its last outcomes (FencedWrites.writeOutcomes).
      await this.write([lease], (writes) => (write === undefined ? writes.markChunkDone(done) : write(writes, done)));
      this.holding.delete(chunk);
    } finally {
      this.finishing.delete(chunk);
    }
  }

  /** The run's shared state now. */
  state(): Promise<SharedRunState | undefined> {
    return this.options.ledger.runState(this.run.runId);
  }

  /**
   * Stops the heartbeat and gives back the chunks still held (a worker stopped, or failed): other
   * workers take them over at once. One that cannot be given back (the database is out of reach)
   * expires after its lease, and is taken over then.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.beating;
    if (this.holding.size === 0 || this.joinedRun === undefined) return;
    const held = this.held;
    this.holding.clear();
    await this.options.ledger.releaseLeases(this.run.runId, this.owner, held).catch(() => undefined);
  }

  /** Renews the leases of the held chunks, drops the ones refused, and passes the shared state on. */
  private heartbeat(): Promise<void> {
    if (this.beating !== undefined) return this.beating;
    const { ledger, onState, onHeartbeatError } = this.options;
    this.beating = (async () => {
      try {
        const held = this.held;
        const renewed = await ledger.renewLeases(this.run.runId, this.owner, held, this.leaseMs);
        for (const h of held) {
          if (!renewed.has(h.chunk) && !this.finishing.has(h.chunk)) this.lose(h.chunk, h.token, undefined);
        }
        const sentAt = performance.now();
        const state = await this.state();
        if (state !== undefined) onState?.(state, sentAt);
      } catch (error) {
        onHeartbeatError?.(error);
      } finally {
        this.beating = undefined;
      }
    })();
    return this.beating;
  }

  private lose(chunk: number, token: number, error: LedgerError | undefined): void {
    if (this.holding.get(chunk) !== token) return;
    this.holding.delete(chunk);
    this.options.onLost?.(chunk, error ?? leaseLost(this.run.runId, [chunk]));
  }

  private mustExist(state: SharedRunState | undefined): SharedRunState {
    if (state === undefined)
      throw new LedgerError('LEDGER_UNUSABLE', `the run ${this.run.runId} this worker joined is no longer in the database`);
    return state;
  }
}
