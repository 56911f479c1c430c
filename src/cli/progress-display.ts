/**
 * Progress on stderr: a redrawn line on a terminal, a plain line every few seconds otherwise.
 * Log lines go through `log` so that they never end up glued to the progress line.
 */
import type { Progress } from '../engine/run-job.js';

export interface ProgressDisplay {
  /** Writes a line above the progress line. */
  log(line: string): void;
  stop(): void;
}

/** A display that only logs (no progress line), for --no-progress, --quiet and --json. */
export function plainLog(stream: NodeJS.WritableStream): ProgressDisplay {
  return { log: (line) => stream.write(`${line}\n`), stop: () => {} };
}

export function startProgress(read: () => Progress, stream: NodeJS.WriteStream, now: () => number = Date.now): ProgressDisplay {
  const tty = stream.isTTY === true;
  const render = (): string => {
    const p = read();
    const seconds = Math.max(0.001, (now() - p.startedAtMs) / 1000);
    const rate = Math.round((p.succeeded + p.failed) / seconds);
    const stopping = p.stopping ? `  stopping (${p.stopping})…` : '';
    return `read ${p.read}  ✓ ${p.succeeded}  ✗ ${p.failed}  in flight ${p.inFlight}${p.concurrencyLimit === undefined ? '' : `/${p.concurrencyLimit}`}  retries ${p.retries}  already done ${p.alreadyDone}  ${rate}/s${stopping}`;
  };
  let drawn = false;
  const draw = (): void => {
    if (tty) {
      // A line wider than the terminal wraps, and `\r` then redraws only its last part: every
      // redraw would leave a line behind.
      stream.write(`\r\x1b[2K${fitToWidth(render(), stream.columns)}`);
      drawn = true;
    } else {
      stream.write(`${render()}\n`);
    }
  };
  const timer = setInterval(draw, tty ? 200 : 5000);
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

/** Cuts a line to fit `columns` terminal columns (one column is left free for the cursor). */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || columns <= 1) return line;
  const characters = Array.from(line);
  return characters.length < columns ? line : `${characters.slice(0, columns - 2).join('')}…`;
}
