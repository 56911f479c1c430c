/**
 * Backoff as plain data: options are validated once by `resolveBackoff` into a frozen object that can
 * be stored and printed; `backoffDelayMs` is a pure function of it, the attempt and injected randomness.
 */
import type { Random } from '../clock.js';
import { ConfigError } from '../errors.js';
import { checkKnownKeys, checkNumber, checkOneOf, formatValue, isRecord } from '../validation/check.js';

/** How a delay is randomised so that records failing together do not retry together. */
export const Jitter = { none: 'none', full: 'full', equal: 'equal', decorrelated: 'decorrelated' } as const;
/** How a delay is randomised so that records failing together do not retry together. */
export type Jitter = (typeof Jitter)[keyof typeof Jitter];

const JITTERS: readonly Jitter[] = Object.values(Jitter);
const CONSTANT_JITTERS = JITTERS.filter((j) => j !== Jitter.decorrelated) as readonly Exclude<Jitter, 'decorrelated'>[];

/** Delays that grow by `multiplier` after each failed attempt, up to `maxDelayMs`. */
export interface ExponentialBackoffOptions {
  kind: 'exponential';
  /** Delay after the first failed attempt, before jitter. @default 200 */
  initialDelayMs?: number;
  /** Growth factor per attempt, at least 1. Unused by `decorrelated` jitter, which grows by its own rule. @default 2 */
  multiplier?: number;
  /** Cap on the computed delay (a server's Retry-After may still exceed it). @default 30_000 */
  maxDelayMs?: number;
  /** `none`: the exact delay; `full`: uniform in [0, delay]; `equal`: uniform in [delay/2, delay]; `decorrelated`: AWS's "decorrelated jitter". @default 'full' */
  jitter?: Jitter;
}

/** The same delay after every failed attempt. */
export interface ConstantBackoffOptions {
  kind: 'constant';
  /** @default 1000 */
  delayMs?: number;
  /**
   * `none` by default: whoever picks a constant delay wants that delay; use `equal` to spread retries
   * of records that fail together. `decorrelated` needs growth and a cap, so only exponential has it.
   * @default 'none'
   */
  jitter?: Exclude<Jitter, 'decorrelated'>;
}

/** Computes the delay (ms) after `attempt` (1-based, the attempt that just failed) failed with `error`. */
export type BackoffFunction = (attempt: number, error: unknown) => number;

/** A user function, optionally capped. A bare `BackoffFunction` is the same with no cap. */
export interface CustomBackoffOptions {
  kind: 'custom';
  delayMs: BackoffFunction;
  /** Cap on the function's result. @default undefined (no cap) */
  maxDelayMs?: number;
}

/** The `retry.backoff` option. @default { kind: 'exponential', initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' } */
export type BackoffOptions = ExponentialBackoffOptions | ConstantBackoffOptions | CustomBackoffOptions | BackoffFunction;

/** Backoff with every default applied, validated and frozen. */
export type ResolvedBackoff =
  | Readonly<Required<ExponentialBackoffOptions>>
  | Readonly<Required<ConstantBackoffOptions>>
  | Readonly<{ kind: 'custom'; delayMs: BackoffFunction; maxDelayMs: number | undefined }>;

/** The backoff used when none is given. */
export const defaultBackoff: ResolvedBackoff = Object.freeze({
  kind: 'exponential',
  initialDelayMs: 200,
  multiplier: 2,
  maxDelayMs: 30_000,
  jitter: Jitter.full,
});

const MS = { min: 0, hint: 'milliseconds' };

/** Applies defaults and validates; throws a `ConfigError` naming `field`, the bad value and what is accepted. */
export function resolveBackoff(input: BackoffOptions | undefined, field = 'retry.backoff'): ResolvedBackoff {
  if (input === undefined) return defaultBackoff;
  if (typeof input === 'function') return customBackoff(input, undefined, field);
  const raw: unknown = input;
  if (!isRecord(raw)) {
    throw new ConfigError(
      `${field} must be an object such as { kind: 'exponential' } or a function (attempt, error) => ms; got ${formatValue(raw)}`,
      { field },
    );
  }
  switch (raw.kind) {
    case 'exponential': {
      checkKnownKeys(raw, field, ['kind', 'initialDelayMs', 'multiplier', 'maxDelayMs', 'jitter']);
      const initialDelayMs = checkNumber(raw.initialDelayMs, 200, `${field}.initialDelayMs`, MS);
      const multiplier = checkNumber(raw.multiplier, 2, `${field}.multiplier`, { min: 1, hint: '1 keeps the delay constant' });
      const maxDelayMs = checkNumber(raw.maxDelayMs, 30_000, `${field}.maxDelayMs`, MS);
      if (initialDelayMs > maxDelayMs) {
        throw new ConfigError(
          `${field}.initialDelayMs (${initialDelayMs}) must not exceed ${field}.maxDelayMs (${maxDelayMs}); raise maxDelayMs or lower initialDelayMs`,
          { field: `${field}.initialDelayMs` },
        );
      }
      const jitter = checkOneOf(raw.jitter, Jitter.full, `${field}.jitter`, JITTERS);
      return Object.freeze({ kind: 'exponential', initialDelayMs, multiplier, maxDelayMs, jitter });
    }
    case 'constant': {
      checkKnownKeys(raw, field, ['kind', 'delayMs', 'jitter']);
      const delayMs = checkNumber(raw.delayMs, 1000, `${field}.delayMs`, MS);
      const jitter = checkOneOf(raw.jitter, Jitter.none, `${field}.jitter`, CONSTANT_JITTERS);
      return Object.freeze({ kind: 'constant', delayMs, jitter });
    }
    case 'custom': {
      checkKnownKeys(raw, field, ['kind', 'delayMs', 'maxDelayMs']);
      if (typeof raw.delayMs !== 'function') {
        throw new ConfigError(`${field}.delayMs must be a function (attempt, error) => ms; got ${formatValue(raw.delayMs)}`, {
          field: `${field}.delayMs`,
        });
      }
      const maxDelayMs = raw.maxDelayMs === undefined ? undefined : checkNumber(raw.maxDelayMs, 0, `${field}.maxDelayMs`, MS);
      return customBackoff(raw.delayMs as BackoffFunction, maxDelayMs, field);
    }
    default:
      throw new ConfigError(`${field}.kind must be one of exponential, constant, custom; got ${formatValue(raw.kind)}`, {
        field: `${field}.kind`,
      });
  }
}

// The user's function is wrapped here, where the field name is known, so that a bad result is
// reported against the option that produced it. It throws rather than guessing a delay: NaN or a
// negative number is a bug in the job, and 0 would hammer the service the backoff is protecting.
function customBackoff(fn: BackoffFunction, maxDelayMs: number | undefined, field: string): ResolvedBackoff {
  const delayMs: BackoffFunction = (attempt, error) => {
    const value: unknown = fn(attempt, error);
    if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
    throw new ConfigError(
      `${field} returned ${formatValue(value)} for attempt ${attempt}; it must return a finite number of milliseconds >= 0`,
      { field },
    );
  };
  return Object.freeze({ kind: 'custom', delayMs, maxDelayMs });
}

/**
 * The delay before the next attempt. `attempt` is the attempt that just failed (1-based);
 * `previousDelayMs` is the delay actually waited before it (0 before the first retry), used by
 * `decorrelated` jitter. Results are rounded to whole milliseconds.
 */
export function backoffDelayMs(b: ResolvedBackoff, attempt: number, previousDelayMs: number, error: unknown, random: Random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be an integer >= 1; got ${attempt}`);
  switch (b.kind) {
    case 'constant':
      return Math.round(jittered(b.jitter, b.delayMs, random));
    case 'exponential': {
      if (b.jitter === Jitter.decorrelated) {
        const upper = Math.max(b.initialDelayMs, previousDelayMs * 3);
        return Math.round(Math.min(b.maxDelayMs, b.initialDelayMs + random() * (upper - b.initialDelayMs)));
      }
      // Computed in one step, not by repeated multiplication; Infinity (huge attempt) caps to maxDelayMs.
      const raw = b.initialDelayMs === 0 ? 0 : b.initialDelayMs * b.multiplier ** (attempt - 1);
      return Math.round(jittered(b.jitter, Math.min(b.maxDelayMs, raw), random));
    }
    case 'custom': {
      const value = b.delayMs(attempt, error);
      return Math.round(b.maxDelayMs === undefined ? value : Math.min(b.maxDelayMs, value));
    }
  }
}

function jittered(jitter: Jitter, base: number, random: Random): number {
  switch (jitter) {
    case Jitter.full:
      return random() * base;
    case Jitter.equal:
      return base / 2 + (random() * base) / 2;
    // Decorrelated jitter is applied by the caller (it depends on the previous delay); here it adds nothing.
    case Jitter.decorrelated:
    case Jitter.none:
      return base;
  }
}

/** A one-line description for logs and `status`, e.g. `exponential from 200ms ×2 up to 30s, full jitter`. */
export function describeBackoff(b: ResolvedBackoff): string {
  switch (b.kind) {
    case 'exponential': {
      const growth = b.jitter === Jitter.decorrelated ? '' : ` ×${b.multiplier}`;
      return `exponential from ${formatMs(b.initialDelayMs)}${growth} up to ${formatMs(b.maxDelayMs)}, ${describeJitter(b.jitter)}`;
    }
    case 'constant':
      return `constant ${formatMs(b.delayMs)}, ${describeJitter(b.jitter)}`;
    case 'custom':
      return b.maxDelayMs === undefined ? 'custom function, uncapped' : `custom function, capped at ${formatMs(b.maxDelayMs)}`;
  }
}

function describeJitter(jitter: Jitter): string {
  return jitter === Jitter.none ? 'no jitter' : `${jitter} jitter`;
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}min`;
  return `${ms / 1000}s`;
}
