/**
 * Two bits per record (by sequence number): "succeeded" and "blocked" (failed or skipped). Enough
 * for a dependency to know whether the record it waits on is done, at 2.5 MB for 10M records,
 * where a map of keys to states would take about a gigabyte.
 */
export class StatusBits {
  private succeededBits: Uint8Array = new Uint8Array(1024);
  private blockedBits: Uint8Array = new Uint8Array(1024);

  setSucceeded(seq: number): void {
    this.ensure(seq);
    set(this.succeededBits, seq, true);
    set(this.blockedBits, seq, false);
  }

  setBlocked(seq: number): void {
    this.ensure(seq);
    set(this.blockedBits, seq, true);
    set(this.succeededBits, seq, false);
  }

  /** Back to "no outcome" (a re-run is about to process it again). */
  clear(seq: number): void {
    this.ensure(seq);
    set(this.blockedBits, seq, false);
    set(this.succeededBits, seq, false);
  }

  succeeded(seq: number): boolean {
    return get(this.succeededBits, seq);
  }

  blocked(seq: number): boolean {
    return get(this.blockedBits, seq);
  }

  /** Marks a whole range succeeded (loading the ledger's success ranges). */
  setSucceededRange(first: number, last: number): void {
    this.ensure(last);
    for (let seq = first; seq <= last; seq++) set(this.succeededBits, seq, true);
  }

  get bytes(): number {
    return this.succeededBits.byteLength + this.blockedBits.byteLength;
  }

  private ensure(seq: number): void {
    const needed = (seq >> 3) + 1;
    if (needed <= this.succeededBits.length) return;
    let length = this.succeededBits.length;
    while (length < needed) length *= 2;
    this.succeededBits = grow(this.succeededBits, length);
    this.blockedBits = grow(this.blockedBits, length);
  }
}

function grow(bits: Uint8Array, length: number): Uint8Array {
  const next = new Uint8Array(length);
  next.set(bits);
  return next;
}

function get(bits: Uint8Array, seq: number): boolean {
  const byte = bits[seq >> 3];
  return byte !== undefined && (byte & (1 << (seq & 7))) !== 0;
}

function set(bits: Uint8Array, seq: number, on: boolean): void {
  const index = seq >> 3;
  const mask = 1 << (seq & 7);
  bits[index] = on ? (bits[index] as number) | mask : (bits[index] as number) & ~mask;
}
