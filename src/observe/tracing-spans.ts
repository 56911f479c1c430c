/**
 * The spans of one run, kept from the engine's events: the run's span, one span per record under
 * it, and one per attempt (handler call) under its record. The engine opens each attempt's span
 * just before it calls the handler (`startAttempt`, through the executor's `runAttempt` hook) and
 * runs the call inside its context; everything else follows from events.
 *
 * A failed call's span stays open for a moment after `attempt:ended`: the verdict (retried, failed,
 * parked by the breaker) comes in a later event, and with it the failure's kind and fingerprint.
 * It is ended with the time the call ended, not the time the verdict came. A record parked by the
 * breaker gets no event of its own: its attempt's span is closed as `parked` when the record runs
 * again, or as `pending` when the run ends. Only records in flight are held here.
 */
import type { Context, Span, Tracer } from '@opentelemetry/api';
import type { EngineEvent } from '../events/engine-event.js';
import { FailureKind } from '../domain/status.js';
import type { SerializedError } from '../policy/serialize-error.js';
import { failureFingerprint } from '../policy/fingerprint.js';
import type { Summary } from '../report/summary.js';

export type OtelApi = typeof import('@opentelemetry/api');

/** The spans' names: few and fixed, as tracing backends group by name. */
export const SpanName = { run: 'batchguard.run', record: 'batchguard.record', attempt: 'batchguard.attempt' } as const;

/** The attributes batchguard sets on its spans. */
export const TraceAttribute = {
  jobName: 'batchguard.job.name',
  runId: 'batchguard.run.id',
  runStatus: 'batchguard.run.status',
  alreadyDone: 'batchguard.run.already_done',
  recordKey: 'batchguard.record.key',
  recordOutcome: 'batchguard.record.outcome',
  recordAttempts: 'batchguard.record.attempts',
  blockedBy: 'batchguard.record.blocked_by',
  attemptNumber: 'batchguard.attempt.number',
  attemptOutcome: 'batchguard.attempt.outcome',
  retryDelayMs: 'batchguard.retry.delay_ms',
  failureKind: 'batchguard.failure.kind',
  failureFingerprint: 'batchguard.failure.fingerprint',
  failureRule: 'batchguard.failure.rule',
  /** OpenTelemetry's own name for the class of error that failed an operation. */
  errorType: 'error.type',
} as const;

/** How an attempt ended, as its span says. */
export const AttemptOutcome = {
  succeeded: 'succeeded',
  /** It failed, and the record will be called again. */
  retrying: 'retrying',
  /** It failed, and so did its record. */
  failed: 'failed',
  /** It failed during an outage: the breaker parked the record, which ran again later. */
  parked: 'parked',
  /** It failed and the run ended before the record was called again (stopped, or parked to the end). */
  pending: 'pending',
  /** It was still running when the run ended (the shutdown's grace period was over). */
  abandoned: 'abandoned',
} as const;
export type AttemptOutcome = (typeof AttemptOutcome)[keyof typeof AttemptOutcome];

interface AttemptSpan {
  readonly span: Span;
  readonly number: number;
  /** performance.now() when the call failed, while its verdict is awaited; undefined while it runs. */
  failedAt: number | undefined;
  timedOut: boolean;
}

interface RecordSpan {
  readonly span: Span;
  readonly context: Context;
  attempt: AttemptSpan | undefined;
}

/** Run statuses that mean the run did not do its job. */
const FAILED_RUNS: ReadonlySet<string> = new Set(['threshold-exceeded', 'aborted', 'uncaught-error']);

export class RunSpans {
  private readonly records = new Map<string, RecordSpan>();
  private readonly run: Span;
  private readonly runContext: Context;
  private ended = false;

  constructor(
    private readonly api: OtelApi,
    private readonly tracer: Tracer,
    job: string,
    runId: string,
  ) {
    // Under whatever span the program that called runJob has open (a cron wrapper, a request).
    const parent = api.context.active();
    this.run = tracer.startSpan(SpanName.run, { attributes: { [TraceAttribute.jobName]: job, [TraceAttribute.runId]: runId } }, parent);
    this.runContext = api.trace.setSpan(parent, this.run);
  }

  /** Whether the run's span records (a provider is registered, and its sampler took the run). */
  get recording(): boolean {
    return this.run.isRecording();
  }

  /** Runs `fn` with the run's span active: the engine's own work (health check, source, ledger) hangs under it. */
  inRun<R>(fn: () => R): R {
    return this.api.context.with(this.runContext, fn);
  }

  /** Opens the span of the attempt about to run (and its record's, at its first); returns the context to call the handler in. */
  startAttempt(key: string, attempt: number): Context {
    const record = this.records.get(key) ?? this.openRecord(key);
    // A failed call with no verdict before this one: the breaker parked the record, and released it.
    if (record.attempt) this.endAttempt(record, AttemptOutcome.parked);
    const span = this.tracer.startSpan(
      SpanName.attempt,
      { attributes: { [TraceAttribute.recordKey]: key, [TraceAttribute.attemptNumber]: attempt } },
      record.context,
    );
    record.attempt = { span, number: attempt, failedAt: undefined, timedOut: false };
    return this.api.trace.setSpan(record.context, span);
  }

  onEvent(event: EngineEvent): void {
    switch (event.type) {
      case 'attempt:ended':
        this.attemptEnded(event.key, event.attempt, event.outcome === 'failed' ? event.error : undefined, event.timedOut === true);
        break;
      case 'record:retrying':
        this.retrying(event);
        break;
      case 'record:failed':
        this.failed(event);
        break;
      case 'record:succeeded':
        this.endRecord(event.key, 'succeeded', { [TraceAttribute.recordAttempts]: event.attempts });
        break;
      case 'record:skipped':
        this.endRecord(event.key, 'skipped', { [TraceAttribute.blockedBy]: [...event.blockedBy] });
        break;
      case 'run:started':
        this.run.setAttribute(TraceAttribute.alreadyDone, event.alreadyDone);
        break;
      case 'breaker:opened':
        this.run.addEvent('breaker opened', { 'batchguard.breaker.reason': event.description });
        break;
      case 'breaker:closed':
        this.run.addEvent('breaker closed', { 'batchguard.breaker.open_ms': event.openMs, 'batchguard.breaker.released': event.released });
        break;
      case 'run:stopping':
      case 'run:deadline':
      case 'run:aborted':
        this.run.addEvent(event.type, { 'batchguard.reason': event.reason });
        break;
      case 'run:finished':
        this.finished(event.summary);
        break;
      case 'run:waiting':
        this.run.addEvent('waiting for the lease', {
          'batchguard.lease.holder': event.holder.runId,
          'batchguard.lease.expires_at': event.holder.expiresAt,
        });
        break;
      // Nothing to add to a span: the breaker's probes show as attempts, commits and logs are not spans.
      case 'breaker:half-open':
      case 'checkpoint':
      case 'concurrency:changed':
      case 'record:log':
      case 'run:uncaught-error':
        break;
    }
  }

  /** Ends what is still open, then the run's span; `error` is what ended the run by throwing, if anything did. */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    for (const record of this.records.values()) {
      if (record.attempt) {
        this.endAttempt(record, record.attempt.failedAt === undefined ? AttemptOutcome.abandoned : AttemptOutcome.pending);
      }
      record.span.setAttribute(TraceAttribute.recordOutcome, 'pending');
      record.span.end();
    }
    this.records.clear();
    if (error !== undefined) {
      const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
      this.run.recordException({ name, message, stack: error instanceof Error ? error.stack : undefined });
      this.run.setStatus({ code: this.api.SpanStatusCode.ERROR, message: `${name}: ${message}` });
    }
    this.run.end();
  }

  private openRecord(key: string): RecordSpan {
    const span = this.tracer.startSpan(SpanName.record, { attributes: { [TraceAttribute.recordKey]: key } }, this.runContext);
    const record: RecordSpan = { span, context: this.api.trace.setSpan(this.runContext, span), attempt: undefined };
    this.records.set(key, record);
    return record;
  }

  private attemptEnded(key: string, number: number, error: SerializedError | undefined, timedOut: boolean): void {
    const record = this.records.get(key);
    const attempt = record?.attempt;
    if (!record || !attempt || attempt.number !== number) return;
    if (error === undefined) {
      this.endAttempt(record, AttemptOutcome.succeeded);
      return;
    }
    attempt.failedAt = performance.now();
    attempt.timedOut = timedOut;
    this.markFailed(attempt.span, error, true);
  }

  private retrying(event: Extract<EngineEvent, { type: 'record:retrying' }>): void {
    const record = this.records.get(event.key);
    const attempt = record?.attempt;
    if (!record || !attempt || attempt.number !== event.attempt) return;
    // The group this failure would have if it ended the record: the one the failure report would show.
    const kind = attempt.timedOut ? FailureKind.timeout : FailureKind.exhausted;
    const fingerprint = failureFingerprint(event.error, { kind, rule: event.rule });
    attempt.span.setAttributes(failureAttributes(fingerprint, kind, event.rule));
    attempt.span.setAttribute(TraceAttribute.retryDelayMs, event.delayMs);
    this.endAttempt(record, AttemptOutcome.retrying);
  }

  private failed(event: Extract<EngineEvent, { type: 'record:failed' }>): void {
    // A record can fail without a call in this run (it crashed the process too often): its span opens and ends here.
    const record = this.records.get(event.key) ?? this.openRecord(event.key);
    const failure = failureAttributes(event.fingerprint, event.kind, event.rule);
    const attempt = record.attempt;
    const byAttempt = attempt !== undefined && attempt.failedAt !== undefined && attempt.number === event.attempts;
    if (byAttempt) {
      attempt.span.setAttributes(failure);
      this.endAttempt(record, AttemptOutcome.failed);
    }
    // Not an attempt's error (a result the output refused, a crash): the record's span records the exception.
    this.markFailed(record.span, event.error, !byAttempt);
    this.endRecord(event.key, 'failed', { ...failure, [TraceAttribute.recordAttempts]: event.attempts });
  }

  private finished(summary: Summary): void {
    this.run.setAttributes({
      [TraceAttribute.runStatus]: summary.status,
      'batchguard.run.total': summary.total,
      'batchguard.run.succeeded': summary.succeeded,
      'batchguard.run.failed': summary.failed,
      'batchguard.run.skipped': summary.skipped,
      'batchguard.run.pending': summary.pending,
      'batchguard.run.attempts': summary.attempts,
      'batchguard.run.retries': summary.retries,
    });
    if (FAILED_RUNS.has(summary.status)) this.run.setStatus({ code: this.api.SpanStatusCode.ERROR, message: summary.reason });
  }

  /** Error status on `span`; with `exception`, the error recorded as an exception event too. */
  private markFailed(span: Span, error: SerializedError, exception: boolean): void {
    if (exception) span.recordException({ name: error.name, message: error.message, stack: error.stack, code: error.code });
    span.setAttribute(TraceAttribute.errorType, error.code ?? error.name);
    span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: `${error.name}: ${error.message}` });
  }

  private endAttempt(record: RecordSpan, outcome: AttemptOutcome): void {
    const attempt = record.attempt as AttemptSpan;
    record.attempt = undefined;
    attempt.span.setAttribute(TraceAttribute.attemptOutcome, outcome);
    attempt.span.end(attempt.failedAt);
  }

  private endRecord(key: string, outcome: string, attributes: Record<string, string | number | string[]>): void {
    const record = this.records.get(key) ?? this.openRecord(key);
    this.records.delete(key);
    if (record.attempt) this.endAttempt(record, outcome === 'succeeded' ? AttemptOutcome.succeeded : AttemptOutcome.failed);
    record.span.setAttributes({ ...attributes, [TraceAttribute.recordOutcome]: outcome });
    record.span.end();
  }
}

function failureAttributes(fingerprint: string, kind: FailureKind, rule: string): Record<string, string> {
  return { [TraceAttribute.failureKind]: kind, [TraceAttribute.failureFingerprint]: fingerprint, [TraceAttribute.failureRule]: rule };
}
