/**
 * The scheduler of the data flow: which open record runs next, and when. It owns the slots (at
 * most `limit()` records hold one), the ready queue, fairness between keys (fair-scheduler.ts), the
 * records parked by the breaker, and the waits for rate-limit tokens. Every open record has one
 * phase (open-record.ts) and `move` is the only place that changes it: the slots in use are the
 * records in a phase that holds one, counted as records enter and leave those phases.
 */
import type { Clock } from '../clock.js';
import type { FairScheduler } from './fair-scheduler.js';
import { Phase, retryState, type OpenRecord } from './open-record.js';
import { RetryRoom } from './retry-room.js';

/** The phases in which a record holds one of the run's slots. */
const HOLDS_SLOT: Readonly<Record<Phase, boolean>> = {
  [Phase.waitingDeps]: false,
  [Phase.setAside]: false,
  [Phase.queued]: false,
  [Phase.running]: true,
  // A record gives its slot back while it waits to retry, as for a rate-limit token: a wait of a
  // second (a Retry-After) holding a slot would idle it for a second.
  [Phase.retryWait]: false,
  [Phase.tokenWait]: false,
  [Phase.held]: false,
  [Phase.parked]: false,
  [Phase.pending]: false,
  [Phase.done]: false,
};

/**
 * Records waiting for a rate-limit token at most: the bound on what a paused key makes the reader
 * buffer (they hold no slot, so without it the reader would go on reading).
 */
const MAX_TOKEN_WAITING = 10_000;

export interface DispatcherDeps {
  /** Records holding a slot at most; read at each decision, so that it may change during the run. */
  readonly limit: () => number;
  readonly clock: Clock;
  /** Per-key concurrency with round-robin fairness, when the job has `concurrencyKey`. */
  readonly fair: FairScheduler<OpenRecord> | undefined;
  /** Whether new attempts may start: the run is not stopping. */
  readonly mayStart: () => boolean;
  /** Starts the record's next attempt (it moves the record to its next phase). */
  readonly start: (entry: OpenRecord) => void;
  /** Something the read loop may be waiting for changed. */
  readonly wake: () => void;
}

export class Dispatcher {
  /** Records in each phase (those that have left the window included: `done`, `pending`). */
  private readonly counts: Record<Phase, number> = {
    [Phase.waitingDeps]: 0,
    [Phase.setAside]: 0,
    [Phase.queued]: 0,
    [Phase.running]: 0,
    [Phase.retryWait]: 0,
    [Phase.tokenWait]: 0,
    [Phase.held]: 0,
    [Phase.parked]: 0,
    [Phase.pending]: 0,
    [Phase.done]: 0,
  };
  /** Slots in use: records in a phase that holds one. */
  private slots = 0;
  /** Records whose dependencies were met, or back from a wait: they go before new reads. */
  private readonly readyQueue: OpenRecord[] = [];
  /** Records parked by the breaker after an attempt, in the order they were parked: probes take the oldest. */
  private parkedRecords: OpenRecord[] = [];
  /** Records that arrived while the breaker was open and were never called: fresh probes. */
  private freshRecords: OpenRecord[] = [];
  /** Probes alternate between a parked record and a fresh one. */
  private freshTurn = false;
  /** Records handed out by the fairness queue that hold one of their key's slots. */
  private readonly keySlots = new Set<OpenRecord>();
  /** True while pump() runs (see there). */
  private pumping = false;
  /** The breaker's probe, while it waits for its fairness key's slot (see startProbe). */
  private probeWaiting: OpenRecord | undefined;
  /** While a crash group runs by itself (runOnly), the records that may start: its members. */
  private only: ReadonlySet<OpenRecord> | undefined;
  /** Records that became ready while a crash group ran: they queue once it has ended. */
  private heldBack: OpenRecord[] = [];
  /** How many records may wait to retry (retry-room.ts). */
  private readonly retryRoom = new RetryRoom();

  constructor(private readonly deps: DispatcherDeps) {}

  /** Moves a record to another phase, taking or giving back its slot (and its key's slot). */
  move(entry: OpenRecord, to: Phase): void {
    const from = entry.phase;
    if (from === to) return;
    this.counts[from]--;
    this.counts[to]++;
    entry.phase = to;
    const had = HOLDS_SLOT[from];
    const has = HOLDS_SLOT[to];
    if (had !== has) this.slots += has ? 1 : -1;
    if (!has && this.deps.fair && this.keySlots.delete(entry)) this.deps.fair.done(entry.fairKey as string);
  }

  /** Counts a record just read (phase `queued`). */
  entered(entry: OpenRecord): void {
    this.counts[entry.phase]++;
  }

  /** Slots in use. */
  get active(): number {
    return this.slots;
  }

  /** How many slots there are now. */
  get limit(): number {
    return this.deps.limit();
  }

  get parked(): number {
    return this.counts[Phase.parked];
  }

  /** Records of the run in a phase. */
  count(phase: Phase): number {
    return this.counts[phase];
  }

  /** Whether the reader must wait before it reads on: every slot is taken, or a waiting line is full. */
  full(): boolean {
    const fair = this.deps.fair;
    return (
      this.slots >= this.deps.limit() ||
      this.counts[Phase.tokenWait] >= MAX_TOKEN_WAITING ||
      this.retryRoom.full(this.slots, this.counts[Phase.retryWait], this.deps.limit()) ||
      (fair !== undefined && fair.queued >= fair.options.maxQueued)
    );
  }

  /**
   * Whether records are still at work or waiting for something that will come: a slot, a retry, a
   * token, the breaker's verdict; parked and queued records count until the run stops (then they
   * stay pending).
   */
  busy(stopping: boolean): boolean {
    const fair = this.deps.fair;
    return (
      this.slots > 0 ||
      this.counts[Phase.held] > 0 ||
      this.counts[Phase.tokenWait] > 0 ||
      this.counts[Phase.retryWait] > 0 ||
      (!stopping &&
        (this.counts[Phase.parked] > 0 ||
          this.readyQueue.length > 0 ||
          this.heldBack.length > 0 ||
          (fair !== undefined && fair.queued > 0)))
    );
  }

  /**
   * A crash group runs by itself (reader.ts): until `runAll`, only its members start. A record that
   * becomes ready meanwhile (released by a member it depends on) waits for the group's end, so
   * that the group's note names what ran and a crash blames the group.
   */
  runOnly(members: readonly OpenRecord[]): void {
    this.only = new Set(members);
  }

  /** The crash group has ended: the records held back queue for their slots. */
  runAll(): void {
    this.only = undefined;
    const heldBack = this.heldBack;
    this.heldBack = [];
    for (const entry of heldBack) this.requeue(entry);
    this.pump();
  }

  /** Whether the record must wait for the crash group running now to end (it is not a member). */
  private holdBack(entry: OpenRecord): boolean {
    if (this.only === undefined || this.only.has(entry)) return false;
    this.move(entry, Phase.queued);
    this.heldBack.push(entry);
    return true;
  }

  /** A record read (or released by its dependencies) that may run: through its key's queue, or now. */
  submit(entry: OpenRecord): void {
    if (this.holdBack(entry)) return;
    if (this.deps.fair) {
      this.deps.fair.offer(entry.fairKey as string, entry);
      this.pump();
      return;
    }
    this.deps.start(entry);
  }

  /**
   * A record whose dependencies were met: it goes before new reads, when a slot is free (through its
   * fairness key's queue, as any record that has a key: it must not run beside the key's others).
   */
  ready(entry: OpenRecord): void {
    this.requeue(entry);
    this.pump();
  }

  /** Back in line for a slot: through the fairness queue for a record that has a fairness key. */
  requeue(entry: OpenRecord): void {
    if (this.holdBack(entry)) return;
    this.move(entry, Phase.queued);
    // A full fairness queue must not lose the record: it then runs without waiting for its key's turn.
    if (!(this.deps.fair && entry.fairKey !== undefined && this.deps.fair.offer(entry.fairKey, entry))) this.readyQueue.push(entry);
  }

  /** The record waits `waitMs` for a rate-limit token without its slot, then queues again. */
  tokenWait(entry: OpenRecord, waitMs: number): void {
    this.waitThenQueue(entry, Phase.tokenWait, waitMs);
  }

  /** A retry ended: served (it succeeded), or failed with an error that may be systemic (retry-room.ts). */
  retryEnded(served: boolean): void {
    this.retryRoom.retryEnded(served, this.counts[Phase.retryWait]);
  }

  /** The record waits `delayMs` for its next attempt (a retry delay, the retry budget) without its slot, then queues again. */
  retryWait(entry: OpenRecord, delayMs: number): void {
    this.waitThenQueue(entry, Phase.retryWait, delayMs);
  }

  private waitThenQueue(entry: OpenRecord, phase: Phase, waitMs: number): void {
    this.move(entry, phase);
    // The cancel stays set while the record is queued again, so that a stop makes it pending at once.
    retryState(entry).cancelRetry = this.deps.clock.timer(waitMs, () => {
      this.requeue(entry);
      this.pump();
      this.deps.wake();
    });
    this.pump();
    this.deps.wake();
  }

  /**
   * Hit by an outage: the record waits for the breaker to close. Its attempts go on counting while it
   * is parked (a probe it fails on its own can end it); they start over when the breaker closes.
   */
  park(entry: OpenRecord): void {
    if (entry.retry) entry.retry.cancelRetry = undefined;
    this.move(entry, Phase.parked);
    (entry.attempt === 0 ? this.freshRecords : this.parkedRecords).push(entry);
    // It may have given back the key slot the probe waits for.
    if (this.probeWaiting) this.startWaitingProbe();
    this.deps.wake();
  }

  /**
   * The breaker closed: every parked record queues again, its attempts started over (`attempt` goes
   * on: each call keeps its own number). A record that had been called is marked `released`: its
   * failures are no new evidence for the breaker, so that records failing on their own, released
   * together, do not open it again at once (a later trip needs records never parked to fail).
   * Returns the records released and the attempts given back.
   */
  releaseParked(): { records: number; attempts: number } {
    const released = [...this.parkedRecords, ...this.freshRecords];
    this.parkedRecords = [];
    this.freshRecords = [];
    let attempts = 0;
    for (const entry of released) {
      attempts += entry.counted;
      entry.counted = 0;
      if (entry.attempt > 0) entry.released = true;
      this.requeue(entry);
    }
    this.pump();
    return { records: released.length, attempts };
  }

  /**
   * Whether the reader may take one record while the breaker is open, so that probes can try a
   * record never called: none is waiting already (parked fresh, or queued for a slot).
   */
  wantsFresh(): boolean {
    const fair = this.deps.fair;
    return (
      this.freshRecords.length === 0 &&
      this.readyQueue.length === 0 &&
      this.heldBack.length === 0 &&
      (fair === undefined || fair.queued === 0)
    );
  }

  /**
   * The record for the breaker's next probe, taken out of its waiting line: a parked record and a
   * fresh one in turn (oldest first), so that probes rotate and are not all calls that just failed;
   * one whose fairness key has a free slot first, so that the probe need not wait for it (see
   * startProbe). Undefined when no record waits at all.
   */
  takeProbe(): OpenRecord | undefined {
    this.freshTurn = !this.freshTurn;
    const first = this.freshTurn ? this.takeFresh : this.takeParked;
    const second = this.freshTurn ? this.takeParked : this.takeFresh;
    const entry = first(this.keyHasRoom) ?? second(this.keyHasRoom) ?? first(anyRecord) ?? second(anyRecord);
    // The reader may take the next fresh record.
    if (entry) this.deps.wake();
    return entry;
  }

  /** The oldest parked record that passes `test`. */
  private readonly takeParked = (test: (entry: OpenRecord) => boolean): OpenRecord | undefined => takeFirst(this.parkedRecords, test);

  /** The oldest record never called that passes `test`: parked fresh, ready, or next in the fairness queue. */
  private readonly takeFresh = (test: (entry: OpenRecord) => boolean): OpenRecord | undefined => {
    const entry = takeFirst(this.freshRecords, test) ?? takeFirst(this.readyQueue, test);
    if (entry) return entry;
    const next = this.deps.fair?.next();
    // It holds its key's slot like any record the fairness queue hands out.
    if (next) this.keySlots.add(next);
    return next;
  };

  /**
   * Runs the breaker's probe once it holds its fairness key's slot: a record parked or queued gave
   * its slot back, and another record of its key may hold it now (one in flight when the breaker
   * opened); the probe then waits for that record to end.
   */
  startProbe(entry: OpenRecord): void {
    if (this.takeKeySlot(entry)) this.deps.start(entry);
    else this.probeWaiting = entry;
  }

  /** Whether the record could take its fairness key's slot now (always, without fairness keys). */
  private readonly keyHasRoom = (entry: OpenRecord): boolean => {
    const fair = this.deps.fair;
    return fair === undefined || entry.fairKey === undefined || this.keySlots.has(entry) || fair.hasRoom(entry.fairKey);
  };

  /** Takes the record's fairness key slot unless it holds it already; false when the key has none free. */
  private takeKeySlot(entry: OpenRecord): boolean {
    const fair = this.deps.fair;
    if (fair === undefined || entry.fairKey === undefined || this.keySlots.has(entry)) return true;
    if (!fair.acquire(entry.fairKey)) return false;
    this.keySlots.add(entry);
    return true;
  }

  /** The probe waiting for its key's slot starts once the slot is free (see startProbe). */
  private startWaitingProbe(): void {
    const entry = this.probeWaiting;
    if (entry === undefined || !this.deps.mayStart() || !this.takeKeySlot(entry)) return;
    this.probeWaiting = undefined;
    this.deps.start(entry);
  }

  /** Starts records waiting for a slot, while slots are free. */
  pump(): void {
    // Not re-entrant: a synchronous handler succeeds inside start(), which settles its dependents
    // and pumps again; the outer loop picks them up instead, so a chain does not grow the stack.
    if (this.pumping) return;
    this.pumping = true;
    try {
      this.pumpNow();
    } finally {
      this.pumping = false;
    }
  }

  private pumpNow(): void {
    const { fair, mayStart, start, limit } = this.deps;
    if (this.probeWaiting) this.startWaitingProbe();
    while (this.readyQueue.length > 0 && this.slots < limit() && mayStart()) {
      start(this.readyQueue.shift() as OpenRecord);
    }
    // Round-robin over the fairness keys that have records waiting and a free per-key slot.
    while (fair && this.slots < limit() && mayStart()) {
      const entry = fair.next();
      if (!entry) break;
      // Its key's slot is given back when it leaves the phases that hold a slot (move), at once when it
      // takes none (it waits for a token, or is parked).
      this.keySlots.add(entry);
      start(entry);
    }
  }
}

const anyRecord = (): boolean => true;

/** Removes and returns the first item of `list` that passes `test`; undefined when none does. */
function takeFirst<T>(list: T[], test: (item: T) => boolean): T | undefined {
  if (list.length === 0 || test(list[0] as T)) return list.shift();
  const at = list.findIndex(test);
  return at < 0 ? undefined : list.splice(at, 1)[0];
}
