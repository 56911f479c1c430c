/**
 * Answers "is this sequence number already finished?" for sequence numbers asked in ascending
 * order, from the sorted ranges the ledger returned. O(1) amortised, no set of keys in memory.
 */

/** A closed interval of sequence numbers (the ledger's `SeqRange`; written out here so that data structures import nothing above them). */
type SeqRange = { readonly first: number; readonly last: number };

export class FinishedSet {
  private index = 0;
  constructor(private readonly ranges: readonly SeqRange[]) {}

  /** `seq` must not be smaller than the one asked before. */
  has(seq: number): boolean {
    let range = this.ranges[this.index];
    while (range !== undefined && range.last < seq) range = this.ranges[++this.index];
    return range !== undefined && range.first <= seq;
  }
}
