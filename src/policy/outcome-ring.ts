/**
 * The breaker's windows (breaker.ts): the last N outcomes, with their failures counted as they come
 * and go.
 */

/** A fixed-size ring of recent outcomes that counts its failures in O(1). */
export class OutcomeRing<T> {
  private readonly items: T[] = [];
  private start = 0;
  failures = 0;

  constructor(
    private readonly size: number,
    private readonly isFailure: (item: T) => boolean,
  ) {}

  get length(): number {
    return this.items.length;
  }

  get full(): boolean {
    return this.items.length === this.size;
  }

  push(item: T): void {
    if (this.items.length < this.size) {
      this.items.push(item);
    } else {
      if (this.isFailure(this.items[this.start] as T)) this.failures--;
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.size;
    }
    if (this.isFailure(item)) this.failures++;
  }

  clear(): void {
    this.items.length = 0;
    this.start = 0;
    this.failures = 0;
  }

  values(): readonly T[] {
    return this.items;
  }

  /** Oldest first, for a snapshot. */
  ordered(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
}

/**
 * A breaker's whole state as plain JSON data: stored by a standalone breaker between processes
 * (`toJSON()`, then restored), so an outage seen by one invocation holds off the next.
 */
