/**
 * OpenTelemetry tracing (the job's `tracing` option) in real runs, with the SDK a program would
 * register: a BasicTracerProvider exporting to memory and the AsyncLocalStorage context manager.
 * The span tree is read back from the exporter: run → records → attempts → the handler's own spans.
 */
import { context, trace, SpanStatusCode, TraceFlags, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.js';
import { runJob } from '../../src/engine/run-job.js';
import { FatalError, RetryableError } from '../../src/errors.js';
import { defineJob } from '../../src/job.js';
import { SpanName, TraceAttribute as A } from '../../src/observe/tracing-spans.js';
import { drive } from '../helpers/drive.js';

const exporter = new InMemorySpanExporter();
/** Spans as a production setup batches them: held a minute unless the provider is flushed. */
const batched = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter), new BatchSpanProcessor(batched, { scheduledDelayMillis: 60_000 })],
});
let tracer: Tracer;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  tracer = trace.getTracer('the-handler');
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});

beforeEach(() => {
  exporter.reset();
  batched.reset();
});

const spans = (name: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.name === name);
const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan): string => span.spanContext().spanId;
const key = (span: ReadableSpan): unknown => span.attributes[A.recordKey];
const endMs = (span: ReadableSpan): number => span.endTime[0] * 1000 + span.endTime[1] / 1e6;
const startMs = (span: ReadableSpan): number => span.startTime[0] * 1000 + span.startTime[1] / 1e6;

interface Row {
  id: string;
  parent?: string;
}

describe('tracing a run', () => {
  it('gives each record a span under the run, each call a span under its record, and the handler’s spans under its call', async () => {
    const calls: { key: string; attempt: number }[] = [];
    const job = defineJob<Row>({
      name: 'traced',
      source: [{ id: 'ok-1' }, { id: 'ok-2' }, { id: 'flaky' }, { id: 'fatal' }, { id: 'exhausted' }, { id: 'child', parent: 'fatal' }],
      key: (r) => r.id,
      dependsOn: (r) => (r.parent ? [r.parent] : []),
      retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 1 } },
      tracing: { tracerName: 'batchguard-test' },
      handler: async (r, ctx) => {
        calls.push({ key: ctx.key, attempt: ctx.attempt });
        // After an await, as a real client's call would be: the attempt's context must still be current.
        await new Promise((resolve) => setTimeout(resolve, 2));
        await tracer.startActiveSpan('call the service', async (span) => {
          span.setAttributes({ key: ctx.key, attempt: ctx.attempt });
          await new Promise((resolve) => setTimeout(resolve, 1));
          span.end();
        });
        if (r.id === 'flaky' && ctx.attempt < 3) throw new RetryableError(`busy, try again (call ${ctx.attempt})`);
        if (r.id === 'fatal') throw new FatalError('record 17 is malformed');
        if (r.id === 'exhausted') throw Object.assign(new Error('upstream answered 503'), { status: 503 });
        return 'done';
      },
    });
    // The program's own span around the run: the run's span goes under it.
    const [summary, outer] = await tracer.startActiveSpan('nightly import', async (span) => {
      const result = await runJob(job, { ledger: 'memory' });
      span.end();
      return [result, span] as const;
    });

    expect(summary).toMatchObject({ status: 'threshold-exceeded', succeeded: 3, failed: 2, skipped: 1, attempts: 9, retries: 4 });
    expect(summary.warnings).toEqual([]);
    // The run flushed the provider before it returned: the batch did not wait its minute.
    const ofTheRun = (spans: ReadableSpan[]): string[] => spans.filter((span) => span.name !== 'nightly import').map(idOf);
    expect(ofTheRun(batched.getFinishedSpans()).sort()).toEqual(ofTheRun(exporter.getFinishedSpans()).sort());
    expect(batched.getFinishedSpans().length).toBeGreaterThan(20);

    const [run, ...moreRuns] = spans(SpanName.run);
    expect(moreRuns).toEqual([]);
    if (!run) throw new Error('no run span');
    expect(run.instrumentationScope.name).toBe('batchguard-test');
    expect(parentOf(run)).toBe(outer.spanContext().spanId);
    expect(run.attributes).toMatchObject({
      [A.jobName]: 'traced',
      [A.runId]: summary.runId,
      [A.runStatus]: 'threshold-exceeded',
      'batchguard.run.total': 6,
      'batchguard.run.succeeded': 3,
      'batchguard.run.failed': 2,
      'batchguard.run.skipped': 1,
      'batchguard.run.pending': 0,
      'batchguard.run.attempts': 9,
      'batchguard.run.retries': 4,
    });
    expect(run.status).toEqual({ code: SpanStatusCode.ERROR, message: summary.reason });

    // One span per record, under the run; every span of the run in one trace.
    const records = spans(SpanName.record);
    expect(records.map(key).sort()).toEqual(['child', 'exhausted', 'fatal', 'flaky', 'ok-1', 'ok-2']);
    for (const record of records) expect(parentOf(record)).toBe(idOf(run));
    for (const span of exporter.getFinishedSpans()) expect(span.spanContext().traceId).toBe(outer.spanContext().traceId);
    const record = (k: string): ReadableSpan => records.find((span) => key(span) === k) as ReadableSpan;

    // One span per call, under its record, numbered as the handler saw it.
    const attempts = spans(SpanName.attempt);
    expect(attempts.map((span) => `${String(key(span))}#${String(span.attributes[A.attemptNumber])}`).sort()).toEqual(
      calls.map((call) => `${call.key}#${call.attempt}`).sort(),
    );
    for (const attempt of attempts) expect(parentOf(attempt)).toBe(idOf(record(key(attempt) as string)));
    const attemptsOf = (k: string): ReadableSpan[] =>
      attempts
        .filter((span) => key(span) === k)
        .sort((a, b) => Number(a.attributes[A.attemptNumber]) - Number(b.attributes[A.attemptNumber]));

    // The handler's own spans: each under the attempt that made it.
    const handlerSpans = spans('call the service');
    expect(handlerSpans).toHaveLength(calls.length);
    for (const span of handlerSpans) {
      const attempt = attempts.find((a) => idOf(a) === parentOf(span));
      expect(attempt?.attributes).toMatchObject({ [A.recordKey]: span.attributes.key, [A.attemptNumber]: span.attributes.attempt });
    }

    // A record that succeeded on its third call: two failed calls with their exceptions, then a success.
    const flaky = attemptsOf('flaky');
    expect(flaky.map((span) => span.attributes[A.attemptOutcome])).toEqual(['retrying', 'retrying', 'succeeded']);
    for (const failed of flaky.slice(0, 2)) {
      expect(failed.status).toEqual({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/^RetryableError: busy, try again/) });
      expect(failed.attributes).toMatchObject({ [A.failureKind]: 'exhausted', [A.failureRule]: 'RetryableError', [A.retryDelayMs]: 1 });
      expect(failed.attributes[A.failureFingerprint]).toMatch(/^[0-9a-f]{12}$/);
      expect(failed.events.map((event) => [event.name, event.attributes?.['exception.message']])).toEqual([
        ['exception', expect.stringMatching(/^busy, try again \(call \d\)$/)],
      ]);
    }
    // A failed call's span ends when the call ended, before the retry starts.
    expect(endMs(flaky[0] as ReadableSpan)).toBeLessThanOrEqual(startMs(flaky[1] as ReadableSpan));
    expect(flaky[2]?.status.code).toBe(SpanStatusCode.UNSET);
    expect(flaky[2]?.events).toEqual([]);
    expect(record('flaky').attributes).toMatchObject({ [A.recordOutcome]: 'succeeded', [A.recordAttempts]: 3 });
    expect(record('flaky').status.code).toBe(SpanStatusCode.UNSET);

    // The fatal failure: its one call and its record in error, with the failure report's fingerprint.
    const fatalGroup = summary.topErrors.find((group) => group.sampleKeys.includes('fatal'));
    expect(fatalGroup).toBeDefined();
    const [fatalCall, ...noMore] = attemptsOf('fatal');
    expect(noMore).toEqual([]);
    expect(fatalCall?.attributes).toMatchObject({
      [A.attemptOutcome]: 'failed',
      [A.failureKind]: 'fatal',
      [A.failureFingerprint]: fatalGroup?.fingerprint,
      [A.errorType]: 'FatalError',
    });
    expect(fatalCall?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'FatalError: record 17 is malformed' });
    expect(fatalCall?.events[0]?.attributes).toMatchObject({
      'exception.type': 'FatalError',
      'exception.message': 'record 17 is malformed',
    });
    expect(record('fatal').attributes).toMatchObject({
      [A.recordOutcome]: 'failed',
      [A.recordAttempts]: 1,
      [A.failureKind]: 'fatal',
      [A.failureFingerprint]: fatalGroup?.fingerprint,
    });
    expect(record('fatal').status.code).toBe(SpanStatusCode.ERROR);

    // Retries used up: three calls in error, the last one `failed`, the record `exhausted`.
    const exhausted = attemptsOf('exhausted');
    expect(exhausted.map((span) => span.attributes[A.attemptOutcome])).toEqual(['retrying', 'retrying', 'failed']);
    for (const call of exhausted) expect(call.status.code).toBe(SpanStatusCode.ERROR);
    const exhaustedGroup = summary.topErrors.find((group) => group.sampleKeys.includes('exhausted'));
    expect(record('exhausted').attributes).toMatchObject({
      [A.failureKind]: 'exhausted',
      [A.failureFingerprint]: exhaustedGroup?.fingerprint,
    });
    // A retried call carries the group it would have had if it had ended the record: the same one.
    expect(exhausted[0]?.attributes[A.failureFingerprint]).toBe(exhaustedGroup?.fingerprint);

    // Blocked by the fatal record: a record span with no call under it.
    expect(attemptsOf('child')).toEqual([]);
    expect(record('child').attributes).toMatchObject({ [A.recordOutcome]: 'skipped', [A.blockedBy]: ['fatal'] });
    expect(record('ok-1').attributes).toMatchObject({ [A.recordOutcome]: 'succeeded', [A.recordAttempts]: 1 });
  });

  it('makes no span without the option: the handler’s spans stay where the program put them', async () => {
    let calls = 0;
    const job = defineJob<Row>({
      name: 'untraced',
      source: [{ id: 'a' }, { id: 'b' }],
      key: (r) => r.id,
      handler: async () => {
        calls++;
        tracer.startSpan('call the service').end();
      },
    });
    const summary = await runJob(job, { ledger: 'memory' });
    expect(summary).toMatchObject({ status: 'completed', succeeded: 2 });
    expect(calls).toBe(2);
    expect(exporter.getFinishedSpans().map((span) => [span.name, parentOf(span)])).toEqual([
      ['call the service', undefined],
      ['call the service', undefined],
    ]);
  });

  it('makes no span for a run the sampler leaves out, nor lets the handler’s spans in', async () => {
    let calls = 0;
    const job = defineJob<Row>({
      name: 'sampled-out',
      source: [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
      key: (r) => r.id,
      tracing: true,
      handler: async () => {
        calls++;
        await new Promise((resolve) => setTimeout(resolve, 1));
        tracer.startSpan('call the service').end();
      },
    });
    // The provider's default sampler follows the parent: a caller's trace that was not sampled.
    const unsampled = trace.setSpanContext(context.active(), {
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: TraceFlags.NONE,
    });
    const summary = await context.with(unsampled, () => runJob(job, { ledger: 'memory' }));
    expect(summary).toMatchObject({ status: 'completed', succeeded: 3, warnings: [] });
    expect(calls).toBe(3);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('closes the calls that an outage parked as `parked`, with their error, and each record once', async () => {
    const clock = new ManualClock();
    const calls: { key: string; attempt: number }[] = [];
    // The service refuses every connection from 100 ms to 1500 ms of the run's (manual) clock.
    const down = (): boolean => clock.now() >= 100 && clock.now() < 1500;
    const job = defineJob<{ id: number }>({
      name: 'traced-outage',
      source: Array.from({ length: 60 }, (_, id) => ({ id })),
      key: (r) => String(r.id),
      concurrency: 4,
      retry: { maxAttempts: 5, backoff: { kind: 'constant', delayMs: 50 } },
      breaker: { consecutiveFailures: 6, minRecords: 10, windowRecords: 50, probeDelayMs: 100, maxProbeDelayMs: 200, probeSuccesses: 2 },
      tracing: true,
      handler: async (_r, ctx) => {
        calls.push({ key: ctx.key, attempt: ctx.attempt });
        await clock.sleep(20);
        if (down()) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return 'ok';
      },
    });
    const summary = await drive(runJob(job, { ledger: 'memory', clock }), clock, 10);
    expect(summary).toMatchObject({ status: 'completed', succeeded: 60, failed: 0 });
    expect(summary.breaker.trips).toBeGreaterThan(0);
    expect(summary.breaker.parkedAttempts).toBeGreaterThan(0);

    const records = spans(SpanName.record);
    expect(records).toHaveLength(60);
    for (const record of records) expect(record.attributes[A.recordOutcome]).toBe('succeeded');
    const attempts = spans(SpanName.attempt);
    expect(attempts).toHaveLength(calls.length);
    // No call failed its record, and none was left open.
    for (const span of attempts) expect(['parked', 'retrying', 'succeeded']).toContain(span.attributes[A.attemptOutcome]);
    const parked = attempts.filter((span) => span.attributes[A.attemptOutcome] === 'parked');
    expect(parked.length).toBeGreaterThan(0);
    for (const span of parked) {
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'Error: connect ECONNREFUSED 127.0.0.1:5432' });
      expect(span.events[0]?.attributes).toMatchObject({ 'exception.type': 'ECONNREFUSED' });
      // Parked is not a verdict on the record: no failure kind.
      expect(span.attributes[A.failureKind]).toBeUndefined();
    }
    // Each record's last call succeeded, under that record's span.
    for (const record of records) {
      const own = attempts.filter((span) => parentOf(span) === idOf(record));
      expect(own.length).toBe(calls.filter((call) => call.key === key(record)).length);
      const last = own.reduce((a, b) => (Number(a.attributes[A.attemptNumber]) > Number(b.attributes[A.attemptNumber]) ? a : b));
      expect(last.attributes[A.attemptOutcome]).toBe('succeeded');
    }
  });
});
