/**
 * Progress on stderr: a redrawn line on a terminal, a plain line every few seconds otherwise.
 */
import type { Progress } from '../engine/run-job.js';

export interface ProgressDisplay {
  stop(): void;
}

export function startProgress(read: () => Progress, stream: NodeJS.WriteStream, now: () => number = Date.now): ProgressDisplay {
  const tty = stream.isTTY === true;
  const render = (): string => {
    const p = read();
    const seconds = Math.max(0.001, (now() - p.startedAtMs) / 1000);
    const rate = Math.round((p.succeeded + p.failed) / seconds);
    const stopping = p.stopping ? `  stopping (${p.stopping})…` : '';
    return `read ${p.read}  ✓ ${p.succeeded}  ✗ ${p.failed}  in flight ${p.inFlight}  retries ${p.retries}  already done ${p.alreadyDone}  ${rate}/s${stopping}`;
  };
  const timer = setInterval(() => {
    if (tty) stream.write(`\r\x1b[2K${render()}`);
    else stream.write(`${render()}\n`);
  }, tty ? 200 : 5000);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      if (tty) stream.write('\r\x1b[2K');
    },
  };
}
