import { afterAll, beforeAll, describe, it, expect } from 'vitest';
import { configError } from '../../test/helpers/errors.js';
import {
  DeadlineReason,
  deadlineReached,
  describeDeadline,
  formatDuration,
  parseDuration,
  parseUntil,
  resolveDeadline,
} from './deadline.js';

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['2h', 7_200_000],
    ['90m', 5_400_000],
    ['45s', 45_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['1500ms', 1500],
    ['1m30s', 90_000],
    ['1s500ms', 1500],
    ['1.5h', 5_400_000],
    ['0.25s', 250],
    ['2d', 172_800_000],
    ['  10m ', 600_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each<[string, string]>([
    ['', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got ""'],
    ['abc', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got "abc"'],
    ['90', '--max-duration needs a unit, such as 90s, 45m or 2h; got "90"'],
    ['30m1h', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got "30m1h"'],
    ['1h1h', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got "1h1h"'],
    ['-5m', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got "-5m"'],
    ['2 hours', '--max-duration must be a duration such as 90s, 45m, 2h or 1h30m; got "2 hours"'],
    ['0s', '--max-duration must be longer than 0; got "0s"'],
    ['0.1ms', '--max-duration must be longer than 0; got "0.1ms"'],
    ['99999999999999999d', '--max-duration is too long; got "99999999999999999d"'],
  ])('rejects %j', (text, message) => {
    const error = configError(() => parseDuration(text));
    expect(error.message).toBe(message);
    expect(error.field).toBe('--max-duration');
  });

  it('names the flag it is given', () => {
    expect(configError(() => parseDuration('soon', '--timeout')).message).toBe(
      '--timeout must be a duration such as 90s, 45m, 2h or 1h30m; got "soon"',
    );
  });

  it('formatDuration writes what parseDuration reads', () => {
    for (const ms of [1, 999, 1500, 45_000, 5_400_000, 90_061_001]) expect(parseDuration(formatDuration(ms))).toBe(ms);
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0ms');
  });
});

describe('parseUntil', () => {
  // Local-time constructors keep these tests right in any time zone.
  const now = new Date(2025, 2, 10, 14, 30, 0).getTime();

  it('is today when the time is still ahead, else tomorrow', () => {
    expect(parseUntil('23:59:30', now)).toBe(new Date(2025, 2, 10, 23, 59, 30).getTime());
    expect(parseUntil('14:30:01', now)).toBe(new Date(2025, 2, 10, 14, 30, 1).getTime());
    expect(parseUntil('06:00', now)).toBe(new Date(2025, 2, 11, 6, 0, 0).getTime());
    expect(parseUntil('6:00', now)).toBe(new Date(2025, 2, 11, 6, 0, 0).getTime());
    // Exactly now is not "still ahead".
    expect(parseUntil('14:30', now)).toBe(new Date(2025, 2, 11, 14, 30, 0).getTime());
    expect(parseUntil('0:00', now)).toBe(new Date(2025, 2, 11, 0, 0, 0).getTime());
  });

  it('crosses month and year ends', () => {
    expect(parseUntil('01:00', new Date(2025, 11, 31, 23, 0).getTime())).toBe(new Date(2026, 0, 1, 1, 0).getTime());
  });

  it.each(['24:00', '6', '6:0', '06:60', '12:00:60', '6pm', '06:00:00:00', '', 'tomorrow'])('rejects %j', (text) => {
    const error = configError(() => parseUntil(text, now));
    expect(error.message).toBe(
      `--until must be a local time of day such as 06:00, 6:00 or 23:59:30 (24-hour); got ${JSON.stringify(text)}`,
    );
    expect(error.field).toBe('--until');
  });

  describe('across a daylight-saving change (Europe/Paris)', () => {
    const previousTz = process.env.TZ;
    beforeAll(() => {
      process.env.TZ = 'Europe/Paris';
    });
    afterAll(() => {
      if (previousTz === undefined) delete process.env.TZ;
      else process.env.TZ = previousTz;
    });

    it('lands on the wall-clock time the next day, not 24 hours later', () => {
      // 2025-03-30 02:00 CET → 03:00 CEST: that day is 23 hours long.
      const saturdayEvening = Date.parse('2025-03-29T22:00:00+01:00');
      expect(parseUntil('06:00', saturdayEvening)).toBe(Date.parse('2025-03-30T06:00:00+02:00'));
      const sundayMorning = Date.parse('2025-03-30T07:00:00+02:00');
      expect(parseUntil('06:00', sundayMorning)).toBe(Date.parse('2025-03-31T06:00:00+02:00'));
    });

    it('resolves a skipped time to the instant the clock jumps to', () => {
      const saturdayEvening = Date.parse('2025-03-29T22:00:00+01:00');
      expect(parseUntil('02:30', saturdayEvening)).toBe(Date.parse('2025-03-30T03:30:00+02:00'));
    });
  });
});

describe('resolveDeadline', () => {
  const start = 1_000_000;

  it('keeps the earliest time limit and says which', () => {
    expect(resolveDeadline({ maxDurationMs: 60_000, untilMs: start + 30_000 }, start)).toEqual({ atMs: start + 30_000, reason: 'until' });
    expect(resolveDeadline({ maxDurationMs: 60_000, untilMs: start + 90_000, maxRecords: 500 }, start)).toEqual({
      atMs: start + 60_000,
      reason: 'max-duration',
      maxRecords: 500,
    });
    expect(resolveDeadline({ maxDurationMs: 60_000, untilMs: start + 60_000 }, start).reason).toBe('max-duration');
    expect(resolveDeadline({ maxRecords: 10 }, start)).toEqual({ maxRecords: 10 });
    const none = resolveDeadline({}, start);
    expect(none).toEqual({});
    expect(Object.isFrozen(none)).toBe(true);
  });

  it('accepts an until already past: the run stops before starting a record', () => {
    const deadline = resolveDeadline({ untilMs: start - 1 }, start);
    expect(deadlineReached(deadline, start, 0)).toBe(DeadlineReason.until);
  });

  it.each<[object, string, string]>([
    [{ maxDurationMs: 0 }, 'maxDurationMs', 'maxDurationMs must be a finite number > 0 (milliseconds); got 0'],
    [{ maxDurationMs: Infinity }, 'maxDurationMs', 'maxDurationMs must be a finite number > 0 (milliseconds); got Infinity'],
    [{ untilMs: NaN }, 'untilMs', 'untilMs must be a finite number >= 0 (epoch milliseconds); got NaN'],
    [{ maxRecords: 0 }, 'maxRecords', 'maxRecords must be an integer >= 1 (records started in this run); got 0'],
    [{ maxRecords: 2.5 }, 'maxRecords', 'maxRecords must be an integer >= 1 (records started in this run); got 2.5'],
  ])('rejects %j', (options, field, message) => {
    const error = configError(() => resolveDeadline(options, start));
    expect(error.field).toBe(field);
    expect(error.message).toBe(message);
  });
});

describe('deadlineReached and describeDeadline', () => {
  const start = Date.UTC(2025, 0, 2, 2, 40);
  const deadline = resolveDeadline({ maxDurationMs: 3_600_000, maxRecords: 1000 }, start);

  it('reports the limit reached, time first', () => {
    expect(deadlineReached(deadline, start + 3_599_999, 999)).toBeUndefined();
    expect(deadlineReached(deadline, start + 3_600_000, 0)).toBe('max-duration');
    expect(deadlineReached(deadline, start, 1000)).toBe('max-records');
    expect(deadlineReached(deadline, start + 3_600_000, 1000)).toBe('max-duration');
    expect(deadlineReached(resolveDeadline({}, start), Number.MAX_SAFE_INTEGER, 1e9)).toBeUndefined();
  });

  it('describes it in one line', () => {
    expect(describeDeadline(deadline, start + 1_200_000)).toBe(
      'stops at 2025-01-02T03:40:00.000Z (--max-duration, in 40m) or after 1000 records',
    );
    expect(describeDeadline(resolveDeadline({ untilMs: start }, start), start + 1)).toBe(
      'stops at 2025-01-02T02:40:00.000Z (--until, already past)',
    );
    expect(describeDeadline(resolveDeadline({}, start), start)).toBe('no deadline');
  });
});
