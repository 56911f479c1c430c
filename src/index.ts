/**
 * batchguard's public API. Everything a job module or a program embedding batchguard needs.
 */
export { defineJob } from './job.js';
export type { Job, JobOptions, Handler, HandlerContext, CheckpointOptions } from './job.js';
export { runJob, startRun } from './engine/run-job.js';
export type { RunHandle, Progress } from './engine/run-job.js';
export type { RunOptions } from './engine/run-options.js';
export type { SharedBreaker, SharedBreakerState } from './engine/shared-breaker.js';
export type { EngineEvent, EventListener } from './engine/events.js';
export type { TracingOptions, TracingSettings } from './observe/tracing-options.js';
export { EngineEventType } from './engine/engine-event-type.js';
export {
  BatchguardError,
  RetryableError,
  FatalError,
  ConfigError,
  SourceError,
  LedgerError,
  StorageError,
  TimeoutError,
  BreakerOpenError,
} from './errors.js';
export { systemClock } from './clock.js';
export type { Clock, Random } from './clock.js';
export { jsonl } from './sources/jsonl.js';
export type { JsonlOptions } from './sources/jsonl.js';
export { InvalidUtf8 } from './sources/utf8.js';
export { csv } from './sources/csv.js';
export type { CsvOptions } from './sources/csv.js';
export { fromIterable } from './sources/iterable.js';
export type { SourceInput } from './sources/iterable.js';
export { postgresTable } from './sources/postgres-table.js';
export type { PostgresTableOptions, PostgresQueryable } from './sources/postgres-table.js';
export type { Source, SourceItem, SourcePosition, SourceFingerprint } from './sources/source.js';
export { classifyError, Classification } from './policy/classify.js';
export type { ClassifyHook } from './policy/classify.js';
export type { RetryOptions } from './policy/retry.js';
export type { ConcurrencyRange } from './policy/concurrency-limit.js';
export { Jitter } from './policy/backoff.js';
export type {
  BackoffOptions,
  ExponentialBackoffOptions,
  ConstantBackoffOptions,
  CustomBackoffOptions,
  BackoffFunction,
} from './policy/backoff.js';
export { BreakerState, BreakerTripReason } from './policy/breaker.js';
export type { BreakerOptions } from './policy/breaker.js';
export type { RetryBudgetOptions } from './policy/retry-budget.js';
export type { RateLimitOptions } from './policy/token-bucket.js';
export type { HealthCheck, HealthCheckOptions } from './policy/health-check.js';
export { DependencyFailurePolicy } from './graph/dependency-tracker.js';
export { serializeError } from './policy/serialize-error.js';
export type { SerializedError } from './policy/serialize-error.js';
export type { Summary, BreakerSummary, PacingSummary, RunReportPaths } from './report/summary.js';
export type { Regression, RegressionKind } from './report/run-history.js';
export { RunStatus, RecordStatus, FailureKind } from './domain/status.js';
export { jsonlOutput } from './sinks/jsonl-output.js';
export type { JsonlOutputOptions } from './sinks/jsonl-output.js';
export type { OutputSink, OutputRecord, SinkOwner, SinkState } from './sinks/output-sink.js';
export { SinkError } from './errors.js';
export type { RerunOptions } from './engine/run-options.js';
// The SQLite factory is the subpath `batchguard/sqlite`: the main entry names no backend.
export { openLedger } from './ledger/open-ledger.js';
export type { LedgerLocation, LedgerContext, OpenedLedger } from './ledger/open-ledger.js';
export type { Ledger, LedgerCounts } from './ledger/ledger.js';
export type { LeaseOptions } from './ledger/lease.js';
// Each pattern on its own, on the same policies a job uses.
export { retry, retryPolicy } from './standalone/retry-policy.js';
export type { RetryPolicy, RetryPolicyOptions, AttemptInfo, RetryNotice, ExecuteOptions } from './standalone/retry-policy.js';
export { circuitBreaker } from './standalone/circuit-breaker.js';
export type { Breaker, CircuitBreakerOptions, CircuitBreakerState } from './standalone/circuit-breaker.js';
export type { BreakerSnapshot, Trip } from './policy/breaker.js';
export { isolate } from './standalone/isolate.js';
export type { Isolation, IsolateOptions, IsolateContext, IsolatedOutcome, IsolateSummary } from './standalone/isolate.js';
export { classify, fingerprint } from './standalone/error-tools.js';
export type { ClassifyResult } from './policy/classify.js';
export type { ErrorFingerprint, FailureContext } from './policy/fingerprint.js';
// Exit codes are the CLI's contract; a program that runs jobs itself can exit with the same ones.
export { ExitCode } from './cli/exit-codes.js';
