/**
 * Progress on stderr: a redrawn line on a terminal, a plain line every few seconds otherwise.
 * Log lines go through `log` so that they never end up glued to the progress line.
 */
import type { Progress } from '../engine/run-job.js';
import { plainLine, progressFigures, terminalLine, type ProgressFigures } from './progress-line.js';

export interface ProgressDisplay {
  /** Writes a line above the progress line. */
  log(line: string): void;
  stop(): void;
}

export interface ProgressDisplayOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** How often a plain line is written when the stream is not a terminal. @default 10_000 */
  readonly plainEveryMs?: number;
  /** Writes a plain line (the CLI's JSON log, as an entry with the figures). @default a line on the stream */
  readonly plain?: (line: string, progress: Progress, figures: ProgressFigures) => void;
}

/** A display that only logs (no progress line), for --no-progress, --quiet and --json. */
export function plainLog(stream: NodeJS.WritableStream): ProgressDisplay {
  return { log: (line) => stream.write(`${line}\n`), stop: () => {} };
}

/** How often the terminal line is redrawn. */
const REDRAW_MS = 200;
/** The rate is measured over about this long, so that it follows a run whose speed changes. */
const RATE_WINDOW_MS = 10_000;

export function startProgress(read: () => Progress, stream: NodeJS.WriteStream, options: ProgressDisplayOptions = {}): ProgressDisplay {
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const rate = new RateMeter(now);
  let drawn = false;
  const draw = (): void => {
    const p = read();
    const figures = progressFigures(p, rate.sample(p.succeeded + p.failed + p.skipped, p.startedAtMs));
    if (tty) {
      // A line wider than the terminal wraps, and `\r` then redraws only its last part: every
      // redraw would leave a line behind.
      stream.write(`\r\x1b[2K${terminalLine(p, figures, stream.columns)}`);
      drawn = true;
    } else if (options.plain) {
      options.plain(plainLine(p, figures), p, figures);
    } else {
      stream.write(`${plainLine(p, figures)}\n`);
    }
  };
  const timer = setInterval(draw, tty ? REDRAW_MS : (options.plainEveryMs ?? 10_000));
  timer.unref();
  return {
    log(line) {
      if (drawn) stream.write('\r\x1b[2K');
      stream.write(`${line}\n`);
      if (drawn) draw();
    },
    stop() {
      clearInterval(timer);
      if (drawn) stream.write('\r\x1b[2K');
    },
  };
}

/** Records per second over the last {@link RATE_WINDOW_MS}, from samples of a growing count. */
class RateMeter {
  private readonly samples: { atMs: number; count: number }[] = [];

  constructor(private readonly now: () => number) {}

  sample(count: number, startedAtMs: number): number {
    const atMs = this.now();
    this.samples.push({ atMs, count });
    while (this.samples.length > 2 && atMs - (this.samples[1] as { atMs: number }).atMs >= RATE_WINDOW_MS) this.samples.shift();
    const first = this.samples[0] as { atMs: number; count: number };
    // Until a window's worth of samples exists, the rate is measured from the start of the run.
    const [fromMs, fromCount] = atMs - first.atMs >= RATE_WINDOW_MS / 2 ? [first.atMs, first.count] : [startedAtMs, 0];
    const seconds = (atMs - fromMs) / 1000;
    return seconds > 0 ? Math.max(0, (count - fromCount) / seconds) : 0;
  }
}
