/**
 * Crash quarantine: a record whose processing kills the process (out of memory, a native crash,
 * `process.exit`, the kernel's SIGKILL) must not make the job impossible to finish, and a crash
 * must not slow the next run down to one record at a time.
 *
 * The note. Before any attempt starts, the ledger holds a note covering it (InFlightNote): the
 * records started and not finished when the note was written, plus up to AHEAD records that may
 * start next (the next reads; or, for a record released from a wait, the AHEAD records from it).
 * A start outside the note writes a new one first, so a note is written about once per AHEAD
 * starts, and after a crash the suspects are at most the records in flight at the last note plus
 * 2 × AHEAD (less the records whose outcome was committed).
 *
 * The bisection. Suspects run in groups by themselves (nothing else in flight), as many at once as
 * the job's concurrency; a group's note names its members. A group that completes clears its
 * members (their outcomes are committed). A crash while a group ran halves it for its members:
 * next time they run in groups of half the size, down to 1 (alone). Only crashes while a record ran
 * alone count toward its quarantine: at `maxCrashes` it fails with kind `crashed` unrun. A crash
 * between two groups blames nobody.
 */
import type { CrashEvidence, Ledger, SeqRange } from '../ledger/ledger.js';

/**
 * How many records a note lets start beyond those in flight. A note is a small autocommit write
 * (tens of µs); one per 256 starts is ~0.1 µs a record, and a crash then leaves a few groups of
 * suspects, not thousands of records to run alone.
 */
export const AHEAD = 256;

/** What the guard needs of a record in flight. */
export interface GuardedEntry {
  readonly position: { readonly seq: number };
}

export class CrashGuard<E extends GuardedEntry> {
  /** Records started (at least once) and not done: what a new note lists as started. */
  private readonly hot = new Set<E>();
  /** The started records of the current note. */
  private noted = new Set<number>();
  /** The reads the current note covers, and the records released from a wait that it covers. */
  private fresh: SeqRange | undefined;
  private released: SeqRange | undefined;
  /** A group of suspects runs by itself. */
  private grouped = false;
  /** Suspects read and waiting for their group to fill, by group size. */
  private readonly waiting = new Map<number, E[]>();
  private readonly lastSuspect: number;

  constructor(
    private readonly evidence: CrashEvidence,
    private readonly ledger: Ledger,
    private readonly concurrency: number,
    private readonly maxCrashes: number,
    /** Whether a record has its outcome (it is no longer a suspect of the next note). */
    private readonly done: (entry: E) => boolean,
  ) {
    let last = -1;
    for (const seq of evidence.suspects.keys()) last = Math.max(last, seq);
    this.lastSuspect = last;
  }

  /** The size of the group a suspect runs in (1: alone), or undefined when the record is no suspect. */
  groupSize(seq: number): number | undefined {
    const suspect = this.evidence.suspects.get(seq);
    if (!suspect) return undefined;
    return Math.min(suspect.groupSize ?? this.concurrency, this.concurrency);
  }

  /** A suspect that crashed the process `maxCrashes` times while it ran alone: its crashes. */
  quarantined(seq: number): { count: number; runIds: string[] } | undefined {
    const suspect = this.evidence.suspects.get(seq);
    if (!suspect || suspect.aloneCrashes < this.maxCrashes) return undefined;
    return { count: suspect.aloneCrashes, runIds: [...suspect.runIds] };
  }

  /**
   * A record just read is about to start in normal mode: resolves once a note covers it. Returns
   * undefined (no wait) when the current note already does, which is all but one read in AHEAD.
   */
  cover(seq: number): Promise<void> | undefined {
    if (!this.grouped && this.covers(seq)) return undefined;
    this.grouped = false;
    this.fresh = { first: seq, last: seq + AHEAD - 1 };
    this.released = undefined;
    return this.write();
  }

  /**
   * An attempt is about to start. A record outside the note (released from a wait: a dependency,
   * the breaker, a rate limit) gets a new note first; during a group it joins the group. Returns
   * the write when there is one (the SQLite ledger has written it when this returns).
   */
  starting(entry: E): Promise<void> | undefined {
    this.hot.add(entry);
    const seq = entry.position.seq;
    if (this.covers(seq)) return undefined;
    if (this.grouped) {
      // It shares the group's fate: the group is what ran when the process died.
      this.noted.add(seq);
      return this.ledger.noteInFlight({ started: [...this.noted], ahead: [], group: true });
    }
    this.released = { first: seq, last: seq + AHEAD - 1 };
    return this.write();
  }

  /**
   * A suspect was read: it waits for its group. Returns the group once it is full, to be run by
   * itself through groupStarts() and groupEnded().
   */
  hold(entry: E, size: number): E[] | undefined {
    const group = this.waiting.get(size) ?? [];
    group.push(entry);
    if (group.length < size) {
      this.waiting.set(size, group);
      return undefined;
    }
    this.waiting.delete(size);
    return group;
  }

  /** Whether reading has passed the last suspect while some wait for their group. */
  passedSuspects(seq: number): boolean {
    return seq >= this.lastSuspect && this.waiting.size > 0;
  }

  /** The groups still waiting (reading has passed every suspect, or ended), smallest first. */
  takeWaiting(): E[][] {
    const groups = [...this.waiting].sort(([a], [b]) => a - b).map(([, group]) => group);
    this.waiting.clear();
    return groups;
  }

  /** Nothing else is in flight: the group's note names exactly these records. */
  groupStarts(group: readonly E[]): Promise<void> {
    this.grouped = true;
    this.fresh = this.released = undefined;
    this.noted = new Set(group.map((entry) => entry.position.seq));
    return this.ledger.noteInFlight({ started: [...this.noted], ahead: [], group: true });
  }

  /** The group is done: until the next start, a crash blames nobody. */
  groupEnded(): Promise<void> {
    this.grouped = false;
    this.noted = new Set();
    this.fresh = this.released = undefined;
    return this.ledger.noteInFlight({ started: [], ahead: [], group: false });
  }

  private covers(seq: number): boolean {
    const fresh = this.fresh;
    if (fresh && fresh.first <= seq && seq <= fresh.last) return true;
    const released = this.released;
    if (released && released.first <= seq && seq <= released.last) return true;
    return this.noted.has(seq);
  }

  private write(): Promise<void> {
    const started: number[] = [];
    for (const entry of this.hot) {
      if (this.done(entry)) this.hot.delete(entry);
      else started.push(entry.position.seq);
    }
    this.noted = new Set(started);
    const ahead = [this.fresh, this.released].filter((range): range is SeqRange => range !== undefined);
    return this.ledger.noteInFlight({ started, ahead, group: false });
  }
}
