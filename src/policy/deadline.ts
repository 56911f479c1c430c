/**
 * When a run must stop on its own (`--max-duration`, `--until`, `--max-records`): parsing the flags,
 * combining them into one deadline, and the cheap check the engine makes as it goes. A run stopped
 * this way exits with code 5 and resumes with `run`.
 */
import { ConfigError } from '../errors.js';
import { checkNumber, formatValue } from '../validation/check.js';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;

// Units largest first, each at most once, optional spaces between parts: "1h30m", "1h 30m", "1.5h", "1500ms".
// `m(?!s)` keeps the minutes part from eating the "m" of "ms".
const NUMBER = String.raw`(\d+(?:\.\d+)?)`;
const DURATION = new RegExp(String.raw`^(?:${NUMBER}d\s*)?(?:${NUMBER}h\s*)?(?:${NUMBER}m(?!s)\s*)?(?:${NUMBER}s\s*)?(?:${NUMBER}ms)?$`);

/**
 * Parses a duration such as `2h`, `90m`, `45s`, `1h30m`, `1500ms`, `1.5h` or `2d` into whole ms. Units
 * go largest first, each once. A bare number is refused: minutes or seconds would be a guess.
 */
export function parseDuration(text: string, flag = '--max-duration'): number {
  const trimmed = text.trim();
  const match = trimmed === '' ? null : DURATION.exec(trimmed);
  const fail = (why: string): never => {
    throw new ConfigError(`${flag} ${why}; got ${formatValue(text)}`, { field: flag });
  };
  if (match === null) {
    return fail(
      /^\d+(\.\d+)?$/.test(trimmed) ? 'needs a unit, such as 90s, 45m or 2h' : 'must be a duration such as 90s, 45m, 2h or 1h30m',
    );
  }
  const units = Object.values(UNIT_MS);
  const ms = Math.round(match.slice(1).reduce((sum, part, i) => sum + (part === undefined ? 0 : Number(part) * (units[i] as number)), 0));
  if (!Number.isSafeInteger(ms)) return fail('is too long');
  if (ms <= 0) return fail('must be longer than 0');
  return ms;
}

/** Formats ms the way `parseDuration` reads it: `1h30m`, `45s`, `1500ms` → `1s500ms`; 0 → `0ms`. */
export function formatDuration(ms: number): string {
  let rest = Math.round(ms);
  let text = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text === '' ? '0ms' : text;
}

/**
 * The next epoch ms at the local wall-clock time `H:MM` or `H:MM:SS` (24-hour): today if that is
 * still ahead of `nowMs`, else tomorrow. A time skipped by a daylight-saving change resolves to the
 * instant the clock jumps to (02:30 on a spring-forward night is 03:30).
 */
export function parseUntil(text: string, nowMs: number, flag = '--until'): number {
  const match = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  const hours = Number(match?.[1]);
  const minutes = Number(match?.[2]);
  const seconds = Number(match?.[3] ?? 0);
  if (match === null || hours > 23 || minutes > 59 || seconds > 59) {
    throw new ConfigError(`${flag} must be a local time of day such as 06:00, 6:00 or 23:59:30 (24-hour); got ${formatValue(text)}`, {
      field: flag,
    });
  }
  const at = new Date(nowMs);
  at.setHours(hours, minutes, seconds, 0);
  if (at.getTime() > nowMs) return at.getTime();
  // setDate then setHours again, rather than adding 24 h: a day across a DST change is 23 or 25 h long.
  at.setDate(at.getDate() + 1);
  at.setHours(hours, minutes, seconds, 0);
  return at.getTime();
}

/** Which limit stops the run. */
export const DeadlineReason = { maxDuration: 'max-duration', until: 'until', maxRecords: 'max-records' } as const;
/** Which limit stops the run. */
export type DeadlineReason = (typeof DeadlineReason)[keyof typeof DeadlineReason];

/** The limits as given (the CLI flags parsed, or `runJob` options). Each is optional; none means no deadline. */
export interface DeadlineOptions {
  /** Stop this long after the run started. @default undefined (no limit) */
  maxDurationMs?: number;
  /** Stop at this epoch ms; one already past stops the run before it starts a record. @default undefined (no limit) */
  untilMs?: number;
  /** Stop after starting this many records in this run (records already done before it are not counted). @default undefined (no limit) */
  maxRecords?: number;
}

/** The combined deadline: plain data, frozen. */
export interface Deadline {
  /** The earliest of the time limits, epoch ms. */
  readonly atMs?: number;
  /** Which time limit `atMs` comes from (`max-duration` on a tie). */
  readonly reason?: typeof DeadlineReason.maxDuration | typeof DeadlineReason.until;
  readonly maxRecords?: number;
}

/** Validates the limits and keeps the earliest time limit; a `ConfigError` names the option and the value. */
export function resolveDeadline(options: DeadlineOptions, startMs: number): Deadline {
  const deadline: { atMs?: number; reason?: Deadline['reason']; maxRecords?: number } = {};
  if (options.maxDurationMs !== undefined) {
    const ms = checkNumber(options.maxDurationMs, 0, 'maxDurationMs', { min: 0, exclusive: true, hint: 'milliseconds' });
    deadline.atMs = startMs + ms;
    deadline.reason = DeadlineReason.maxDuration;
  }
  if (options.untilMs !== undefined) {
    const untilMs = checkNumber(options.untilMs, 0, 'untilMs', { min: 0, hint: 'epoch milliseconds' });
    if (deadline.atMs === undefined || untilMs < deadline.atMs) {
      deadline.atMs = untilMs;
      deadline.reason = DeadlineReason.until;
    }
  }
  if (options.maxRecords !== undefined) {
    deadline.maxRecords = checkNumber(options.maxRecords, 0, 'maxRecords', { min: 1, integer: true, hint: 'records started in this run' });
  }
  return Object.freeze(deadline);
}

/**
 * Which limit has been reached, if any: cheap enough to call before starting each record. The time
 * limit is checked first, so a run that hits both reports the one that ended it in wall-clock terms.
 */
export function deadlineReached(deadline: Deadline, nowMs: number, recordsStarted: number): DeadlineReason | undefined {
  if (deadline.atMs !== undefined && nowMs >= deadline.atMs) return deadline.reason;
  if (deadline.maxRecords !== undefined && recordsStarted >= deadline.maxRecords) return DeadlineReason.maxRecords;
  return undefined;
}

/** One line for logs and the summary, e.g. `stops at 2025-01-02T06:00:00.000Z (--until, in 3h20m) or after 1000 records`. */
export function describeDeadline(deadline: Deadline, nowMs: number): string {
  const parts: string[] = [];
  if (deadline.atMs !== undefined) {
    const left = deadline.atMs > nowMs ? `in ${formatDuration(deadline.atMs - nowMs)}` : 'already past';
    parts.push(`at ${new Date(deadline.atMs).toISOString()} (--${deadline.reason ?? 'until'}, ${left})`);
  }
  if (deadline.maxRecords !== undefined) parts.push(`after ${deadline.maxRecords} records`);
  return parts.length === 0 ? 'no deadline' : `stops ${parts.join(' or ')}`;
}
