/**
 * Crash quarantine: a record whose processing kills the process (out of memory, a native crash,
 * `process.exit`, the kernel's SIGKILL) must not make the job impossible to finish, and a crash
 * must not slow the next run down to one record at a time.
 *
 * The note. Before any attempt starts, the ledger holds a note covering it (InFlightNote): the
 * records started and not finished when the note was written, plus the records that may start next
 * (the next `ahead` reads; or, for a record released from a wait, the AHEAD records from it). A
 * start outside the note writes a new one first, so a note is written about once per `ahead`
 * starts, and after a crash the suspects are at most the records in flight at the last note plus
 * 2 × `ahead` (less the records whose outcome was committed). `ahead` follows the pace of reading:
 * about NOTE_EVERY_MS of reads, from AHEAD up to MAX_AHEAD. A ledger that stores notes
 * asynchronously (PostgreSQL: a round trip) is waited for: an attempt starts once a stored note
 * covers it, and notes are stored in the order they were made (NoteQueue). There the note for the
 * next reads goes out early, when reading is three quarters through the current range, so that its
 * round trip overlaps reads the stored note covers (earlyNoteDue). A ledger that writes a note before
 * returning (SQLite) costs no wait at all, and gets no early note.
 *
 * The bisection. Suspects run in groups by themselves (nothing else running or waiting to run, and
 * only members start until each has its outcome: reader.ts), as many at once as the job's
 * concurrency; a group's note names its members. A group that completes clears its
 * members (their outcomes are committed). A crash while a group ran halves it for its members:
 * next time they run in groups of half the size, down to 1 (alone). Only crashes while a record ran
 * alone count toward its quarantine: at `maxCrashes` it fails with kind `crashed` unrun. A crash
 * between two groups blames nobody.
 */
import type { CrashEvidence, InFlightNote, Ledger, SeqRange } from '../ledger/ledger.js';

/**
 * How many records a note lets start beyond those in flight, at least. A note is a small
 * autocommit write: tens of µs on a fast disk, ~300 µs on the virtual disks measured here
 * (bench/engine-throughput.mjs), where one per 256 starts cost ~1 µs a record, as much as the rest
 * of a record's bookkeeping. A crash leaves a few groups of suspects, not thousands to run alone.
 */
export const AHEAD = 256;

/**
 * The most a note lets start beyond those in flight, when reading is fast: at 100,000 records/s,
 * one note per ~40 ms. The suspects of a crash stay a few thousand records, run in groups.
 */
export const MAX_AHEAD = 4096;

/**
 * The interval between two notes that `ahead` aims at while reading is fast: ~20 notes a second,
 * under 1% of a run's time even on a slow disk.
 */
const NOTE_EVERY_MS = 50;

/** The size of `hot` below which it is not pruned between notes. */
const MIN_PRUNE = 64;

/**
 * Notes on their way to an asynchronous ledger (PostgreSQL), written one after another in the order
 * they were made: two notes in flight at once could be stored in either order, and the last one
 * stored would not be the last one made. Each note replaces the one before, so a note made while
 * another is on its way waits for it, and replaces any note already waiting: at most two are ever
 * outstanding. A synchronous ledger (SQLite) has written its note when `noteInFlight` returns, and
 * nothing is ever on its way.
 */
class NoteQueue {
  /** The last note's write, settled once it and every note before it are stored. */
  private writing: Promise<void> | undefined;
  /** The note waiting for `writing`, if any. */
  private waiting: { note: InFlightNote; written: Promise<void> } | undefined;
  /** The last note stored, and the records it names as started. */
  private stored: { note: InFlightNote; started: ReadonlySet<number> } | undefined;
  /** Why a note could not be written: every later wait gets it (an early note has nobody waiting for it). */
  private failure: { error: unknown } | undefined;
  /** Whether the ledger stores notes asynchronously (its first note returned a promise). */
  asynchronous = false;

  constructor(private readonly ledger: Ledger) {}

  /** The write on its way, if any: an attempt covered by a note not yet stored waits for it. */
  get pending(): Promise<void> | undefined {
    return this.failure ? Promise.reject(this.failure.error) : this.writing;
  }

  /** Whether a note is on its way, or one could not be written. */
  get busy(): boolean {
    return this.writing !== undefined || this.failure !== undefined;
  }

  /**
   * Whether an attempt covered by the newest note may start before that note is stored: when the
   * note stored names `seq` too, and the newest note is the only one on its way
   * (a note between the two, stored first, might not cover it). It is covered at every moment.
   */
  storedCovers(seq: number): boolean {
    const stored = this.stored;
    if (this.waiting !== undefined || this.failure || stored === undefined) return false;
    if (stored.started.has(seq)) return true;
    // A loop, not `some` with a closure: this is asked at every read and start.
    for (const range of stored.note.ahead) if (range.first <= seq && seq <= range.last) return true;
    return false;
  }

  /** Writes `note` after the notes before it; undefined when the ledger wrote it before returning. */
  send(note: InFlightNote): Promise<void> | undefined {
    const before = this.writing;
    if (before === undefined) {
      const written = this.ledger.noteInFlight(note);
      if (written === undefined) {
        // Stored already: only an asynchronous ledger's starts ask what is stored.
        return undefined;
      }
      this.asynchronous = true;
      return this.track(written, () => note);
    }
    const waiting = this.waiting;
    if (waiting !== undefined) {
      waiting.note = note;
      return waiting.written;
    }
    const next = { note, written: Promise.resolve() };
    let sent = note;
    next.written = before.then(
      () => {
        this.waiting = undefined;
        sent = next.note;
        return this.ledger.noteInFlight(sent);
      },
      (error: unknown) => {
        // The run is stopping on that error; this note is not written.
        this.waiting = undefined;
        throw error;
      },
    );
    this.waiting = next;
    return this.track(next.written, () => sent);
  }

  /** `note()`: the note that `written` stores (a waiting note may be replaced until it is sent). */
  private track(written: Promise<void>, note: () => InFlightNote): Promise<void> {
    this.writing = written;
    // Registered before the callers' own handlers: they see the note stored.
    written.then(
      () => {
        const stored = note();
        this.stored = { note: stored, started: new Set(stored.started) };
        if (this.writing === written) this.writing = undefined;
      },
      (error: unknown) => {
        this.failure ??= { error };
        if (this.writing === written) this.writing = undefined;
      },
    );
    return written;
  }
}

/** What the guard needs of a record in flight. */
export interface GuardedEntry {
  readonly position: { readonly seq: number };
  /** Calls of the handler so far: a record called before is in `hot` already, until it is done. */
  readonly attempt?: number;
}

export class CrashGuard<E extends GuardedEntry> {
  /**
   * Records started and maybe not done: what a new note lists as started (those not done). A list
   * pruned now and then, not a Set: pushing is cheaper than hashing on every start. A record called
   * before (a retry) is not pushed again; one started again before its first call (parked, or the
   * run stopping) may be in it twice.
   */
  private hot: E[] = [];
  /** The started records of the current note. */
  private noted = new Set<number>();
  /** The reads the current note covers, and the records released from a wait that it covers. */
  private fresh: SeqRange | undefined;
  private released: SeqRange | undefined;
  /** A group of suspects runs by itself. */
  private grouped = false;
  /** Suspects read and waiting for their group to fill, by group size. */
  private readonly waiting = new Map<number, E[]>();
  /** The last suspect's sequence number (-1: none): no record read after it is a suspect. */
  private readonly lastSuspect: number;
  /** How many reads the next note for reads covers, and when the last one was written. */
  private ahead = AHEAD;
  private freshAtMs = -Infinity;
  /** `hot` is pruned of finished records when it reaches this size. */
  private pruneAt = MIN_PRUNE;
  private readonly notes: NoteQueue;

  constructor(
    private readonly evidence: CrashEvidence,
    ledger: Ledger,
    private readonly concurrency: number,
    private readonly maxCrashes: number,
    /** Whether a record has its outcome (it is no longer a suspect of the next note). */
    private readonly done: (entry: E) => boolean,
    /** Milliseconds from some fixed point: paces `ahead` (wall time, whatever clock the run uses). */
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    let last = -1;
    for (const seq of evidence.suspects.keys()) last = Math.max(last, seq);
    this.lastSuspect = last;
    this.notes = new NoteQueue(ledger);
  }

  /** Careful mode: suspects of an earlier crash are running in a group by themselves, or waiting for one. */
  get careful(): boolean {
    return this.grouped || this.waiting.size > 0;
  }

  /** The size of the group a suspect runs in (1: alone), or undefined when the record is no suspect. */
  groupSize(seq: number): number | undefined {
    // Past the last suspect (and with none at all), no lookup: this runs for every record read.
    if (seq > this.lastSuspect) return undefined;
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
   * A record just read is about to start in normal mode: resolves once a stored note covers it.
   * Returns undefined (no wait) when the note in force is stored and covers it, which is all but
   * one read in AHEAD, and always with a ledger that writes notes before returning (SQLite).
   */
  cover(seq: number): Promise<void> | undefined {
    if (!this.grouped && this.covers(seq)) {
      if (this.earlyNoteDue(seq)) this.noteEarly(seq);
      return this.waitFor(seq);
    }
    this.paceAhead(seq);
    this.grouped = false;
    this.fresh = { first: seq, last: seq + this.ahead - 1 };
    this.released = undefined;
    return this.write();
  }

  /**
   * An attempt is about to start. A record outside the note (released from a wait: a dependency,
   * the breaker, a rate limit) gets a new note first; during a group it joins the group. Returns
   * the write the attempt must wait for, if any: the note covering it while it is on its way to an
   * asynchronous ledger. A synchronous ledger (SQLite) has written it when this returns (and throws
   * when it could not), so this returns undefined.
   */
  starting(entry: E): Promise<void> | undefined {
    if (!entry.attempt) {
      this.hot.push(entry);
      if (this.hot.length >= this.pruneAt) this.prune();
    }
    const seq = entry.position.seq;
    if (this.covers(seq)) return this.waitFor(seq);
    if (this.grouped) {
      // It shares the group's fate: the group is what ran when the process died.
      this.noted.add(seq);
      return this.notes.send({ started: [...this.noted], ahead: [], group: true });
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

  /** Nothing else is in flight: the group's note names exactly these records (resolves once stored). */
  groupStarts(group: readonly E[]): Promise<void> | undefined {
    this.grouped = true;
    this.fresh = this.released = undefined;
    this.noted = new Set(group.map((entry) => entry.position.seq));
    return this.notes.send({ started: [...this.noted], ahead: [], group: true });
  }

  /** The group is done: until the next start, a crash blames nobody. */
  groupEnded(): Promise<void> | undefined {
    this.groupClosed();
    return this.notes.send({ started: [], ahead: [], group: false });
  }

  /**
   * The group is done and each member's outcome is committed: the note naming it blames nobody
   * now, and the next start writes a note of its own.
   */
  groupClosed(): void {
    this.grouped = false;
    this.noted = new Set();
    this.fresh = this.released = undefined;
  }

  /** What an attempt covered by the newest note waits for: that note, unless the one stored covers it too. */
  private waitFor(seq: number): Promise<void> | undefined {
    return this.notes.storedCovers(seq) ? undefined : this.notes.pending;
  }

  /**
   * With a ledger that stores notes asynchronously, the note for the reads after the current
   * range is sent when reading is three quarters through it, nothing being on its way: its round
   * trip goes on while the last quarter is read (at least 64 reads, and a range takes about
   * NOTE_EVERY_MS to read), instead of holding the first read past the range.
   */
  private earlyNoteDue(seq: number): boolean {
    const fresh = this.fresh;
    if (!this.notes.asynchronous || fresh === undefined || this.notes.busy) return false;
    return seq >= fresh.first + Math.floor(((fresh.last - fresh.first + 1) * 3) / 4);
  }

  /** The early note: from `seq` on, as the note made past the range would be (the reads before it are started or done). */
  private noteEarly(seq: number): void {
    const fresh = this.fresh as SeqRange;
    // Paced by the time the whole range would have taken, so that the range is what it would be
    // without early notes (and with it the suspects of a crash): this note comes after a part.
    this.paceAhead(seq, (fresh.last - fresh.first + 1) / Math.max(1, seq - fresh.first));
    this.fresh = { first: seq, last: seq + this.ahead - 1 };
    this.released = undefined;
    // Its failure is kept by the queue and met by the next wait.
    void this.write()?.catch(() => {});
  }

  private covers(seq: number): boolean {
    const fresh = this.fresh;
    if (fresh && fresh.first <= seq && seq <= fresh.last) return true;
    const released = this.released;
    if (released && released.first <= seq && seq <= released.last) return true;
    return this.noted.has(seq);
  }

  /**
   * Reading went on past the note: the next one reaches twice as far when the last was written
   * less than NOTE_EVERY_MS / 2 ago, half as far when more than 2 × NOTE_EVERY_MS ago.
   */
  private paceAhead(seq: number, earlyScale?: number): void {
    const now = this.nowMs();
    if (!this.grouped && (earlyScale !== undefined || this.fresh?.last === seq - 1)) {
      const elapsed = (now - this.freshAtMs) * (earlyScale ?? 1);
      if (elapsed < NOTE_EVERY_MS / 2) this.ahead = Math.min(MAX_AHEAD, this.ahead * 2);
      else if (elapsed > NOTE_EVERY_MS * 2) this.ahead = Math.max(AHEAD, this.ahead / 2);
    } else {
      this.ahead = AHEAD;
    }
    this.freshAtMs = now;
  }

  /**
   * Drops finished records from `hot`, at sizes that double: amortised O(1) a start,
   * and finished records are not kept alive (to be promoted by the garbage collector) until the
   * next note.
   */
  private prune(): void {
    // In place, without a Set: records waiting to retry keep the list at ~100 while records go by.
    const hot = this.hot;
    let kept = 0;
    for (let i = 0; i < hot.length; i++) {
      const entry = hot[i] as E;
      if (!this.done(entry)) hot[kept++] = entry;
    }
    hot.length = kept;
    this.pruneAt = Math.max(MIN_PRUNE, kept * 2);
  }

  private write(): Promise<void> | undefined {
    this.prune();
    // A record in the list twice (see `hot`) is listed once.
    this.noted = new Set(this.hot.map((entry) => entry.position.seq));
    const started = [...this.noted];
    const ahead = [this.fresh, this.released].filter((range): range is SeqRange => range !== undefined);
    return this.notes.send({ started, ahead, group: false });
  }
}
