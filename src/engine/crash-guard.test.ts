import { describe, expect, it } from 'vitest';
import type { CrashEvidence, CrashSuspect, InFlightNote, Ledger } from '../ledger/ledger.js';
import { AHEAD, CrashGuard, MAX_AHEAD } from './crash-guard.js';

interface Entry {
  position: { seq: number };
  done: boolean;
  attempt?: number;
}
const entry = (seq: number): Entry => ({ position: { seq }, done: false });

/** A clock that moves `stepMs` at each reading: the pace of reads as the guard sees it. */
const ticking = (stepMs: number): (() => number) => {
  let now = 0;
  return () => (now += stepMs);
};

function guard(
  suspects: [number, Partial<CrashSuspect>][] = [],
  concurrency = 8,
  nowMs = ticking(50),
): { guard: CrashGuard<Entry>; notes: InFlightNote[] } {
  const notes: InFlightNote[] = [];
  // Written before it returns, as the SQLite ledger does.
  const ledger = { noteInFlight: (note: InFlightNote) => void notes.push(note) } as unknown as Ledger;
  const evidence: CrashEvidence = {
    suspects: new Map(suspects.map(([seq, s]) => [seq, { groupSize: undefined, aloneCrashes: 0, runIds: [], ...s }])),
  };
  return { guard: new CrashGuard<Entry>(evidence, ledger, concurrency, 3, (entry) => entry.done, nowMs), notes };
}

/** Whether `note` says `seq` may have been in flight. */
const names = (note: InFlightNote, seq: number): boolean =>
  note.started.includes(seq) || note.ahead.some((r) => r.first <= seq && seq <= r.last);

describe('CrashGuard', () => {
  it('writes a note once per AHEAD reads, and every start is named by the note in force', () => {
    const { guard: g, notes } = guard();
    const running: Entry[] = [];
    for (let seq = 0; seq < 1000; seq++) {
      void g.cover(seq);
      const e = entry(seq);
      void g.starting(e);
      expect(names(notes[notes.length - 1] as InFlightNote, seq)).toBe(true);
      running.push(e);
      // Eight in flight: the oldest finishes.
      if (running.length > 8) (running.shift() as Entry).done = true;
    }
    expect(notes).toHaveLength(Math.ceil(1000 / AHEAD));
    // A note names what was running when it was written, not every record read since the last commit.
    const last = notes[notes.length - 1] as InFlightNote;
    expect(last.started.length).toBeLessThanOrEqual(8);
    expect(last.group).toBe(false);
  });

  it('names a record waiting to retry in every note until it is done, once, whether or not it was called before', () => {
    const { guard: g, notes } = guard();
    void g.cover(0);
    const retried = entry(0);
    void g.starting(retried);
    retried.attempt = 1;
    // Parked before its first call, then started again: in the list twice, named once.
    const parked = entry(1);
    void g.starting(parked);
    void g.starting(parked);
    // Thousands of records go by (notes, prunes) while both wait; the retry starts again out of the note.
    for (let seq = 2; seq < 3000; seq++) {
      void g.cover(seq);
      const e = entry(seq);
      void g.starting(e);
      e.done = true;
    }
    void g.starting(retried);
    const last = notes[notes.length - 1] as InFlightNote;
    expect(last.started).toEqual([0, 1]);
    retried.done = true;
    parked.done = true;
    void g.cover(100_000);
    expect((notes[notes.length - 1] as InFlightNote).started).toEqual([]);
  });

  it('reaches further while reading is fast (fewer notes), and back to AHEAD when it slows down', () => {
    let stepMs = 1;
    const { guard: g, notes } = guard([], 8, () => (nowMs += stepMs));
    let nowMs = 0;
    const unnamed: number[] = [];
    const read = (from: number, to: number): void => {
      for (let seq = from; seq < to; seq++) {
        void g.cover(seq);
        const e = entry(seq);
        void g.starting(e);
        if (!names(notes[notes.length - 1] as InFlightNote, seq)) unnamed.push(seq);
        e.done = true;
      }
    };
    const reach = (): number => {
      const ahead = (notes[notes.length - 1] as InFlightNote).ahead[0] as { first: number; last: number };
      return ahead.last - ahead.first + 1;
    };
    read(0, 100_000);
    expect(reach()).toBe(MAX_AHEAD);
    // 256 + 512 + ... + 2048 before the reach is at its top, then one note per MAX_AHEAD reads.
    expect(notes.length).toBeLessThan(5 + 100_000 / MAX_AHEAD + 1);
    stepMs = 1000;
    read(100_000, 100_000 + 8 * MAX_AHEAD);
    expect(reach()).toBe(AHEAD);
    expect(unnamed).toEqual([]);
  });

  it('names a record released from a wait (outside the note) in a new note, with the records still running', () => {
    const { guard: g, notes } = guard();
    for (let seq = 1000; seq < 1004; seq++) {
      void g.cover(seq);
      void g.starting(entry(seq));
    }
    expect(notes).toHaveLength(1);
    void g.starting(entry(5));
    expect(notes).toHaveLength(2);
    expect([...(notes[1] as InFlightNote).started].sort((a, b) => a - b)).toEqual([5, 1000, 1001, 1002, 1003]);
    // Its neighbours are covered by the same note.
    void g.starting(entry(6));
    expect(notes).toHaveLength(2);
  });

  it('groups suspects by size, notes a group by itself, adds a record that joins it, and blames nobody between groups', () => {
    const { guard: g, notes } = guard(
      [
        [1, {}],
        [2, {}],
        [3, { groupSize: 2 }],
        [4, { groupSize: 2 }],
        [9, { groupSize: 1 }],
      ],
      4,
    );
    expect(g.groupSize(1)).toBe(4);
    expect(g.groupSize(3)).toBe(2);
    expect(g.groupSize(5)).toBeUndefined();
    const [a, b, c, d] = [entry(1), entry(3), entry(2), entry(4)];
    expect(g.hold(a, 4)).toBeUndefined();
    expect(g.hold(b, 2)).toBeUndefined();
    expect(g.hold(c, 4)).toBeUndefined();
    expect(g.hold(d, 2)).toEqual([b, d]);
    void g.groupStarts([b, d]);
    expect(notes[0]).toEqual({ started: [3, 4], ahead: [], group: true });
    void g.starting(b);
    void g.starting(d);
    expect(notes).toHaveLength(1);
    // A record released from a wait during the group joins it.
    void g.starting(entry(500));
    expect(notes[1]).toEqual({ started: [3, 4, 500], ahead: [], group: true });
    void g.groupEnded();
    expect(notes[2]).toEqual({ started: [], ahead: [], group: false });
    expect(g.passedSuspects(8)).toBe(false);
    const alone = entry(9);
    expect(g.hold(alone, 1)).toEqual([alone]);
    expect(g.passedSuspects(9)).toBe(true);
    expect(g.takeWaiting()).toEqual([[a, c]]);
    expect(g.passedSuspects(10)).toBe(false);
  });

  it('quarantines only after maxCrashes crashes alone', () => {
    const { guard: g } = guard([
      [1, { groupSize: 1, aloneCrashes: 2, runIds: ['a', 'b'] }],
      [2, { groupSize: 1, aloneCrashes: 3, runIds: ['a', 'b', 'c'] }],
    ]);
    expect(g.quarantined(1)).toBeUndefined();
    expect(g.quarantined(2)).toEqual({ count: 3, runIds: ['a', 'b', 'c'] });
  });

  describe('with a ledger that stores notes asynchronously (PostgreSQL)', () => {
    /** A ledger whose writes are stored when the test says so: `store()` completes the oldest write on its way. */
    function asyncGuard(nowMs: () => number = ticking(50)): {
      guard: CrashGuard<Entry>;
      sent: InFlightNote[];
      stored: InFlightNote[];
      store: (error?: Error) => Promise<void>;
    } {
      const sent: InFlightNote[] = [];
      const stored: InFlightNote[] = [];
      const onTheirWay: ((error?: Error) => void)[] = [];
      const ledger = {
        noteInFlight: (note: InFlightNote) =>
          new Promise<void>((resolve, reject) => {
            sent.push(note);
            onTheirWay.push((error) => {
              if (error) return reject(error);
              stored.push(note);
              resolve();
            });
          }),
      } as unknown as Ledger;
      const evidence: CrashEvidence = { suspects: new Map() };
      /** Completes the oldest write on its way (fails it with `error`). */
      const store = async (error?: Error): Promise<void> => {
        (onTheirWay.shift() as (error?: Error) => void)(error);
        // Lets the queue send the next note.
        for (let i = 0; i < 5; i++) await Promise.resolve();
      };
      return { guard: new CrashGuard<Entry>(evidence, ledger, 8, 3, (e) => e.done, nowMs), sent, stored, store };
    }

    it('sends the next note three quarters through the range: the reads the stored note covers do not wait for it', async () => {
      const { guard: g, sent, stored, store } = asyncGuard();
      void g.cover(0);
      void g.starting(entry(0));
      await store();
      const unnamed: number[] = [];
      const waited: number[] = [];
      const read = (seq: number): void => {
        const e = entry(seq);
        if (g.cover(seq) !== undefined || g.starting(e) !== undefined) waited.push(seq);
        // Named by the note stored, and by the one on its way, which replaces it once stored.
        else if (![stored.at(-1), sent.at(-1)].every((note) => names(note as InFlightNote, seq))) unnamed.push(seq);
        e.done = true;
      };
      for (let seq = 1; seq < (AHEAD * 3) / 4; seq++) read(seq);
      expect(sent).toHaveLength(1);
      for (let seq = (AHEAD * 3) / 4; seq < AHEAD; seq++) read(seq);
      expect(sent).toHaveLength(2);
      expect((sent[1] as InFlightNote).ahead).toEqual([{ first: (AHEAD * 3) / 4, last: (AHEAD * 3) / 4 + AHEAD - 1 }]);
      expect(waited).toEqual([]);
      expect(unnamed).toEqual([]);
      // Past the stored note, before the next one is stored: the read waits for it.
      const past = g.cover(AHEAD);
      expect(past).toBeInstanceOf(Promise);
      await store();
      await past;
      expect(g.starting(entry(AHEAD))).toBeUndefined();
    });

    it("paces early notes by the time the whole range takes: the range (and a crash's suspects) stays what it would be", async () => {
      // 0.12 ms a read: a range of AHEAD reads takes ~31 ms (kept as it is), three quarters of it ~23 ms.
      let reads = 0;
      const { guard: g, sent, stored, store } = asyncGuard(() => reads * 0.12);
      for (let seq = 0; seq < 20 * AHEAD; seq++, reads++) {
        const waiting = g.cover(seq);
        // Every note is stored at the next read.
        while (stored.length < sent.length) await store();
        await waiting;
        const e = entry(seq);
        void g.starting(e);
        e.done = true;
      }
      const reaches = sent.map((note) => {
        const range = note.ahead[0] as { first: number; last: number };
        return range.last - range.first + 1;
      });
      expect(sent.length).toBeGreaterThan(20);
      expect(new Set(reaches)).toEqual(new Set([AHEAD]));
    });

    it('keeps the error of a note nobody waited for: the next start gets it', async () => {
      const { guard: g, sent, store } = asyncGuard();
      void g.cover(0);
      await store();
      for (let seq = 1; seq <= (AHEAD * 3) / 4; seq++) expect(g.cover(seq)).toBeUndefined();
      expect(sent).toHaveLength(2);
      await store(new Error('the ledger is gone'));
      await expect(g.cover((AHEAD * 3) / 4 + 1)).rejects.toThrow('the ledger is gone');
      await expect(g.starting(entry((AHEAD * 3) / 4 + 1))).rejects.toThrow('the ledger is gone');
    });

    it('sends one note at a time, in the order they were made, the newest replacing one still waiting', async () => {
      const { guard: g, sent, stored, store } = asyncGuard();
      const covering = g.cover(1000);
      const first = g.starting(entry(1000));
      // Released from waits while the first note is on its way: each outside the notes made so far.
      const second = g.starting(entry(5));
      const third = g.starting(entry(3000));
      expect(sent).toHaveLength(1);
      await store();
      // The note made last went out next, alone: the one it replaced never did.
      expect(sent).toHaveLength(2);
      expect([...(sent[1] as InFlightNote).started].sort((a, b) => a - b)).toEqual([5, 1000, 3000]);
      await store();
      await Promise.all([covering, first, second, third]);
      expect(stored).toEqual(sent);
    });

    it('makes an attempt wait for the note that covers it, even when that note was made for another record', async () => {
      const { guard: g, store } = asyncGuard();
      let settled = false;
      const read = g.cover(1000);
      expect(read).toBeInstanceOf(Promise);
      // Covered by the note on its way, which is not stored yet: it waits too.
      const covered = g.starting(entry(1000));
      expect(covered).toBeInstanceOf(Promise);
      void covered?.then(() => (settled = true));
      await Promise.resolve();
      expect(settled).toBe(false);
      await store();
      expect(settled).toBe(true);
      // Nothing on its way any more: a covered start waits for nothing.
      expect(g.starting(entry(1001))).toBeUndefined();
      expect(g.cover(1002)).toBeUndefined();
    });
  });
});
