import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Progress } from '../engine/run-job.js';
import { startProgress } from './progress-display.js';
import { duration, fitToWidth, progressFigures, terminalLine } from './progress-line.js';

/** A stream of `columns` columns (a terminal when `columns` is given) that keeps what was written. */
function stream(columns: number | undefined): NodeJS.WriteStream & { text: string } {
  const out = new Writable({
    write: (chunk, _encoding, done) => ((out.text += String(chunk)), done()),
  }) as unknown as NodeJS.WriteStream & { text: string };
  Object.assign(out, { isTTY: columns !== undefined, columns, text: '' });
  return out;
}

const busy: Progress = {
  runId: 'r',
  read: 12_345_678,
  succeeded: 12_000_000,
  failed: 345_678,
  skipped: 12,
  retrying: 7,
  inFlight: 64,
  retries: 98_765,
  attempts: 110_000,
  alreadyDone: 1_000_000,
  startedAtMs: 0,
  stopping: 'SIGINT',
  concurrencyLimit: 64,
  breaker: 'half-open',
  careful: false,
  bytesRead: 600_000_000,
  bytesTotal: 1_200_000_000,
  sourceExhausted: false,
};

afterEach(() => void vi.useRealTimers());

describe('progress figures', () => {
  it('estimates the total from the bytes read of a file source, and the ETA from the rate', () => {
    const p: Progress = {
      ...busy,
      read: 1001,
      alreadyDone: 0,
      succeeded: 900,
      failed: 50,
      skipped: 0,
      bytesRead: 100_000,
      bytesTotal: 1_000_000,
    };
    expect(progressFigures(p, 100)).toEqual({
      done: 950,
      total: 10_000,
      estimated: true,
      percent: 9.5,
      recordsPerSecond: 100,
      etaSeconds: 90.5,
    });
  });

  it('counts the records once the source is read to its end', () => {
    const p: Progress = { ...busy, read: 400, alreadyDone: 100, succeeded: 200, failed: 0, skipped: 0, sourceExhausted: true };
    expect(progressFigures(p, 0)).toMatchObject({ done: 300, total: 400, estimated: false, percent: 75, etaSeconds: undefined });
  });

  it('has no total for a source without bytes until it ends', () => {
    const p: Progress = { ...busy, bytesRead: undefined, bytesTotal: undefined };
    expect(progressFigures(p, 10)).toMatchObject({ total: undefined, percent: undefined, etaSeconds: undefined });
  });
});

describe('terminal line', () => {
  const figures = progressFigures(busy, 12_345);

  it('shows every figure when the terminal is wide enough', () => {
    expect(terminalLine(busy, figures, 200)).toBe(
      '13,345,690/~24,691,354  54.1%  12,345 rec/s  ETA 15m19s  ✓ 12,000,000  ✗ 345,678  skipped 12  retrying 7  64/64 in flight  breaker half-open  stopping (SIGINT)…',
    );
  });

  it('leaves out the least important figures first, so that the line fits without being cut', () => {
    const line = terminalLine(busy, figures, 110);
    expect(Array.from(line).length).toBeLessThan(110);
    expect(line).toBe('13,345,690/~24,691,354  54.1%  ETA 15m19s  ✓ 12,000,000  ✗ 345,678  breaker half-open  stopping (SIGINT)…');
  });

  it('names careful mode, and cuts with … only what one part cannot fit', () => {
    const careful = terminalLine({ ...busy, careful: true, stopping: undefined, breaker: 'closed' }, figures, 200);
    expect(careful).toContain('careful mode');
    expect(careful).not.toContain('breaker');
    // The run's state outranks the counts.
    expect(terminalLine(busy, figures, 12)).toBe('stopping (…');
  });

  it('redraws in place on a terminal, never wider than it', () => {
    vi.useFakeTimers();
    const out = stream(40);
    const display = startProgress(() => busy, out, { now: () => 10_000 });
    vi.advanceTimersByTime(200);
    display.log('a log line');
    display.stop();
    const drawn = out.text.split('\r\x1b[2K').filter((part) => part !== '' && !part.startsWith('a log line'));
    expect(drawn.length).toBeGreaterThan(1);
    for (const line of drawn) expect(Array.from(line).length).toBeLessThan(40);
    expect(out.text).toContain('a log line\n');
  });
});

describe('plain progress (not a terminal)', () => {
  it('writes a line of words every interval, without control characters', () => {
    vi.useFakeTimers();
    const out = stream(undefined);
    const display = startProgress(() => busy, out, { now: () => 10_000, plainEveryMs: 1000 });
    vi.advanceTimersByTime(3000);
    display.stop();
    const lines = out.text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    // eslint-disable-next-line no-control-regex
    expect(out.text).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(lines[0]).toBe(
      'progress: done 13345690 of about 24691354 (54.1%), 1234569 rec/s, eta 9s, succeeded 12000000, failed 345678, skipped 12, retrying 7, in flight 64/64, breaker half-open, stopping (SIGINT)',
    );
  });

  it('formats durations for people', () => {
    expect([duration(4.4), duration(725), duration(11_220)]).toEqual(['4s', '12m05s', '3h07m']);
  });

  it('shows the adaptive concurrency limit beside the records in flight', () => {
    vi.useFakeTimers();
    const out = stream(undefined);
    const display = startProgress(() => ({ ...busy, inFlight: 7, concurrencyLimit: 9 }), out, { now: () => 10_000, plainEveryMs: 1000 });
    vi.advanceTimersByTime(1000);
    display.stop();
    expect(out.text).toMatch(/, in flight 7\/9,/);
  });

  it('leaves a line that fits as it is, and one that does not ends in …', () => {
    expect(fitToWidth('short', 80)).toBe('short');
    expect(fitToWidth('abcdefghij', 10)).toBe('abcdefgh…');
    expect(fitToWidth('abcdefghi', 10)).toBe('abcdefghi');
    expect(fitToWidth('anything', undefined)).toBe('anything');
  });
});
