/**
 * The attempts running now, for the executor's timeout sweep (record-executor.ts).
 */
import type { OpenRecord } from './open-record.js';

/** An unordered list with O(1) removal (swap with the last, index kept on the entry): cheaper than a Set. */
export class RunningList {
  private readonly items: OpenRecord[] = [];

  add(entry: OpenRecord): void {
    if (entry.runningAt >= 0) return;
    entry.runningAt = this.items.length;
    this.items.push(entry);
  }

  delete(entry: OpenRecord): void {
    const at = entry.runningAt;
    if (at < 0) return;
    const last = this.items.pop() as OpenRecord;
    if (last !== entry) {
      this.items[at] = last;
      last.runningAt = at;
    }
    entry.runningAt = -1;
  }

  snapshot(): OpenRecord[] {
    return [...this.items];
  }
}
