/**
 * A run's state as seen from outside: whether it is stopping, why it ended (one RunEnding), and the
 * stop itself: intake stops at once, records waiting for a retry stay pending at once, running ones
 * get the job's `shutdownGraceMs`, then are abandoned (pending too).
 */
import type { Clock } from '../clock.js';
import type { EngineEvents } from './events.js';
import { laterEnding, stoppingFor, type RunEnding } from './run-ending.js';

/** What a stop does to the records of a run that has begun. */
export interface Stoppable {
  /** The breaker stops probing; held records stay pending. */
  stopBreaker(): void;
  /** Records not running (waiting for a retry or a token) stay pending at once; the reader wakes. */
  abandonWaiting(): void;
  /** Every open record is abandoned (stays pending). */
  abandonAll(): void;
}

export class RunControl {
  private why: RunEnding | undefined;
  private stoppingNow = false;
  private over = false;
  private cancelGrace: (() => void) | undefined;
  private run: Stoppable | undefined;
  /** Aborts a source that is waiting for its next record when the run stops. */
  private readonly reading = new AbortController();

  constructor(
    private readonly events: EngineEvents,
    private readonly clock: Clock,
    private readonly shutdownGraceMs: number,
  ) {}

  /** Why the run ended early, if it did. */
  get ending(): RunEnding | undefined {
    return this.why;
  }

  /** Whether the run is stopping: no new attempt starts, a record that would retry stays pending. */
  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** What the run is stopping for, while it is. */
  get stoppingFor(): string | undefined {
    return this.stoppingNow && this.why ? stoppingFor(this.why) : undefined;
  }

  /** Whether the loop has ended (nothing is left to stop). */
  get ended(): boolean {
    return this.over;
  }

  get signal(): AbortSignal {
    return this.reading.signal;
  }

  /** The run has begun: a stop now reaches its records. */
  attach(run: Stoppable): void {
    this.run = run;
    if (this.stoppingNow) run.stopBreaker();
  }

  /** Stopped from outside; does nothing once the run stops or has ended. */
  stop(reason: string): void {
    if (this.stoppingNow || this.over) return;
    this.end({ kind: 'stopped', reason });
  }

  forceStop(reason: string): void {
    this.stop(reason);
    this.run?.abandonAll();
  }

  /** The run ends for `ending` (kept if it weighs more than an earlier cause); with `stop`, it stops. */
  end(ending: RunEnding, stop = true): void {
    this.why = laterEnding(this.why, ending);
    if (!stop || this.stoppingNow || this.over) return;
    this.stoppingNow = true;
    const reason = stoppingFor(ending);
    this.run?.stopBreaker();
    this.reading.abort(reason);
    this.events.emit({ type: 'run:stopping', reason });
    this.cancelGrace = this.clock.timer(this.shutdownGraceMs, () => this.run?.abandonAll());
    this.run?.abandonWaiting();
  }

  /** The loop has ended: no grace timer may outlive the run. */
  loopEnded(): void {
    this.over = true;
    this.cancelGrace?.();
  }
}
