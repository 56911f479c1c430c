/**
 * Crash quarantine: a record whose processing kills the process (out of memory, a native crash,
 * `process.exit`, the kernel's SIGKILL) must not make the job impossible to finish.
 *
 * Normal mode keeps a note "every record below N may have started" in the ledger, carried by the
 * group commits (and written on its own only when reading outruns the commits). After a crash, the records that may have been in flight (from the watermark to that
 * mark) are suspects: the next run processes each of them alone ("careful mode"), with an exact
 * note of which record is running. A crash in careful mode names its record. A record's crash count
 * is its exact crashes plus the suspect ranges that cover it; at `maxCrashes` it fails with kind
 * `crashed` and its handler is not called again.
 */
import type { CrashEvidence, Ledger } from '../ledger/ledger.js';

/**
 * How far ahead of the reading a note reaches. Each group commit carries a fresh note (free: it is
 * in the commit's transaction); a separate write happens only when reading outruns the commits by
 * this much.
 */
const NOTE_AHEAD = 2048;

export class CrashGuard {
  private notedBelow = 0;
  /** Between lone records, the careful note says "careful mode, nothing running". */
  private inCareful = false;

  constructor(
    private readonly evidence: CrashEvidence,
    private readonly ledger: Ledger,
  ) {}

  /** A record is about to be processed in normal mode. */
  reading(seq: number): void {
    if (this.inCareful) {
      this.inCareful = false;
      this.ledger.noteCareful(undefined);
    }
    if (seq < this.notedBelow) return;
    this.notedBelow = seq + NOTE_AHEAD;
    this.ledger.noteStarted(this.notedBelow);
  }

  /** The note to carry with a group commit, given the last record read. */
  noteForCommit(lastReadSeq: number): number {
    this.notedBelow = Math.max(this.notedBelow, lastReadSeq + 1 + NOTE_AHEAD);
    return this.notedBelow;
  }

  /** Whether a record must run alone: an earlier crash may have been its doing. */
  suspect(seq: number): boolean {
    if (this.evidence.counts.has(seq)) return true;
    for (const range of this.evidence.ranges) if (range.first <= seq && seq <= range.last) return true;
    return false;
  }

  /** How often the process died with this record possibly in flight, and in which runs. */
  crashes(seq: number): { count: number; runIds: string[] } {
    const exact = this.evidence.counts.get(seq);
    const runIds = [...(exact?.runIds ?? [])];
    for (const range of this.evidence.ranges) if (range.first <= seq && seq <= range.last) runIds.push(range.runId);
    return { count: runIds.length, runIds };
  }

  /** A lone record starts (`note`), or has just finished (undefined): a crash now blames nobody. */
  careful(note: { seq: number; key: string } | undefined): void {
    this.inCareful = true;
    this.ledger.noteCareful(note ?? { seq: -1, key: '' });
  }
}
