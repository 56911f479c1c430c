import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Progress } from '../engine/run-job.js';
import { fitToWidth, startProgress } from './progress-display.js';

/** A terminal of `columns` columns that keeps what was written. */
function terminal(columns: number): NodeJS.WriteStream & { text: string } {
  const stream = new Writable({
    write: (chunk, _encoding, done) => ((stream.text += String(chunk)), done()),
  }) as unknown as NodeJS.WriteStream & { text: string };
  Object.assign(stream, { isTTY: true, columns, text: '' });
  return stream;
}

const busy: Progress = {
  runId: 'r',
  read: 12_345_678,
  succeeded: 12_000_000,
  failed: 345_678,
  inFlight: 64,
  retries: 98_765,
  attempts: 110_000,
  concurrencyLimit: undefined,
  alreadyDone: 1_000_000,
  startedAtMs: 0,
  stopping: 'SIGINT',
};

afterEach(() => void vi.useRealTimers());

describe('progress line', () => {
  it('fits the terminal width, so redraws never wrap onto new lines', () => {
    vi.useFakeTimers();
    const stream = terminal(40);
    const display = startProgress(
      () => busy,
      stream,
      () => 10_000,
    );
    vi.advanceTimersByTime(200);
    display.log('a log line');
    display.stop();
    const drawn = stream.text.split('\r\x1b[2K').filter((part) => part.startsWith('read '));
    expect(drawn.length).toBeGreaterThan(0);
    for (const line of drawn) expect(Array.from(line).length).toBeLessThan(40);
    expect(drawn[0]).toMatch(/^read 12345678 {2}✓ 12000000 .*…$/);
  });

  it('shows the adaptive concurrency limit beside the records in flight', () => {
    vi.useFakeTimers();
    const stream = Object.assign(terminal(200), { isTTY: false });
    const display = startProgress(
      () => ({ ...busy, inFlight: 7, concurrencyLimit: 9 }),
      stream,
      () => 10_000,
    );
    vi.advanceTimersByTime(5000);
    display.stop();
    expect(stream.text).toMatch(/ in flight 7\/9 {2}retries /);
  });

  it('leaves a line that fits as it is, and one that does not ends in …', () => {
    expect(fitToWidth('short', 80)).toBe('short');
    expect(fitToWidth('abcdefghij', 10)).toBe('abcdefgh…');
    expect(fitToWidth('abcdefghi', 10)).toBe('abcdefghi');
    expect(fitToWidth('anything', undefined)).toBe('anything');
  });
});
