/**
 * Watches a run's limits (`--max-duration`, `--until`, `--max-records`): checked before and after
 * each record, and by a timer so that the run stops on time even while it waits for a slot.
 */
import type { Clock } from '../clock.js';
import { deadlineReached, DeadlineReason, type Deadline } from '../policy/deadline.js';

export class DeadlineWatch {
  constructor(
    private readonly deadline: Deadline,
    private readonly clock: Clock,
    /** Called with why the run must stop (a sentence for the summary). */
    private readonly reached: (reason: DeadlineReason, description: string) => void,
  ) {}

  /** Before a record starts: true when a limit is reached (and `reached` was called). */
  beforeRecord(started: number): boolean {
    const { atMs, maxRecords } = this.deadline;
    if (atMs === undefined && maxRecords === undefined) return false;
    // The clock is read only when there is a time limit: this runs once per record.
    const reason = deadlineReached(this.deadline, atMs === undefined ? 0 : this.clock.now(), started);
    if (reason) this.report(reason);
    return reason !== undefined;
  }

  /** After a record started: true when that was the last one this run may start. */
  afterRecord(started: number): boolean {
    if (this.deadline.maxRecords === undefined || started < this.deadline.maxRecords) return false;
    this.report(DeadlineReason.maxRecords);
    return true;
  }

  /** Arms the timer of the time limit; returns the function that disarms it. */
  start(): () => void {
    const at = this.deadline.atMs;
    if (at === undefined) return () => {};
    let cancel = (): void => {};
    const arm = (): void => {
      const left = at - this.clock.now();
      if (left <= 0) {
        this.report(this.deadline.reason ?? DeadlineReason.maxDuration);
        return;
      }
      cancel = this.clock.timer(left, arm);
    };
    arm();
    return () => cancel();
  }

  private report(reason: DeadlineReason): void {
    const description =
      reason === DeadlineReason.maxRecords
        ? `the limit of ${this.deadline.maxRecords} records for one run was reached`
        : `the run reached its ${reason === DeadlineReason.until ? '--until time' : 'maximum duration'} (${new Date(this.deadline.atMs as number).toISOString()})`;
    this.reached(reason, description);
  }
}
