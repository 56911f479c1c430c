/**
 * Error classes of batchguard. Every error keeps its `cause`; classification looks through the
 * whole cause chain (see policy/classify.ts), so wrapping an error never changes how it is retried.
 */

/** Base class of the errors batchguard itself raises. `code` is stable and machine-readable. */
export class BatchguardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BatchguardError';
    this.code = code;
  }
}

/** Options of the user-facing retry/fatal errors. */
export interface ClassifiedErrorOptions {
  /** The underlying error; kept and reported in the failure's cause chain. */
  cause?: unknown;
  /** Server-directed delay before the next attempt (for example from a `Retry-After` header). */
  retryAfterMs?: number;
  /**
   * Names the failure group outright (e.g. `'geocoder-no-match'`): failures with the same group are
   * one group in the summary and `batchguard failures`, whatever their error chain. @default the error's identity
   */
  group?: string;
}

/** Options of `FatalError`. */
export interface FatalErrorOptions {
  /** The underlying error; kept and reported in the failure's cause chain. */
  cause?: unknown;
  /** Names the failure group outright, as for `RetryableError`. @default the error's identity */
  group?: string;
}

/** Throw (or wrap) this to say "this attempt failed but another may succeed". */
export class RetryableError extends Error {
  readonly retryAfterMs: number | undefined;
  readonly group: string | undefined;
  constructor(message: string, options: ClassifiedErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RetryableError';
    this.retryAfterMs = options.retryAfterMs;
    this.group = options.group;
  }
}

/** Throw (or wrap) this to say "this record will never succeed as it is": no further attempts. */
export class FatalError extends Error {
  readonly group: string | undefined;
  constructor(message: string, options: FatalErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FatalError';
    this.group = options.group;
  }
}

/** An invalid job definition or option. Names the field, the value and the fix. Exit code 2. */
export class ConfigError extends BatchguardError {
  readonly field: string | undefined;
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('CONFIG', message, options);
    this.name = 'ConfigError';
    this.field = options.field;
  }
}

/** The source cannot be opened or has changed since the ledger last saw it. Exit code 2. */
export class SourceError extends BatchguardError {
  constructor(code: 'SOURCE_UNREADABLE' | 'SOURCE_DRIFT' | 'SOURCE_MOVED', message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'SourceError';
  }
}

/** The ledger cannot be used: held by another run, unreadable, or of an unknown schema. Exit code 4. */
export class LedgerError extends BatchguardError {
  constructor(code: 'LEDGER_LOCKED' | 'LEDGER_LEASE_LOST' | 'LEDGER_UNUSABLE', message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'LedgerError';
  }
}

/**
 * The disk under the ledger, its key file, the output or the reports failed: full (`STORAGE_FULL`),
 * a file damaged or missing (`STORAGE_DAMAGED`), or an I/O error (`STORAGE_IO`). What was committed
 * before is intact. Exit code 4.
 */
export class StorageError extends BatchguardError {
  /** The file that could not be written or read. */
  readonly path: string;
  constructor(code: 'STORAGE_FULL' | 'STORAGE_DAMAGED' | 'STORAGE_IO', message: string, options: { path: string; cause?: unknown }) {
    super(code, message, options);
    this.name = 'StorageError';
    this.path = options.path;
  }
}

/** The output sink cannot be opened or does not match what the ledger committed. Exit code 2. */
export class SinkError extends BatchguardError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SINK', message, options);
    this.name = 'SinkError';
  }
}

/** An attempt ran longer than `timeoutMs`. Retryable; a record whose last attempt timed out fails with kind `timeout`. */
export class TimeoutError extends BatchguardError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('TIMEOUT', `attempt timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A standalone circuit breaker refused a call: it is open (or half-open with its probe running).
 * Retryable, and `retryAfterMs` says when the next probe may run, so `retry` around the breaker
 * waits for it.
 */
export class BreakerOpenError extends BatchguardError {
  /** Time until the breaker lets a probe through (0 while a probe is running). */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super('BREAKER_OPEN', message);
    this.name = 'BreakerOpenError';
    this.retryAfterMs = retryAfterMs;
  }
}
