/**
 * A program's tracing setup, as docs/observability.md shows it, for the CLI's tracing test: loaded
 * with `node --import`, it registers the OpenTelemetry SDK with the AsyncLocalStorage context
 * manager and a batching span processor that writes each batch as JSON lines to the file named by
 * BATCHGUARD_TEST_SPANS. The batch waits a minute: only a flush at the end of the run exports it.
 */
import { appendFileSync } from 'node:fs';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

const file = process.env.BATCHGUARD_TEST_SPANS;
if (!file) throw new Error('BATCHGUARD_TEST_SPANS names the file the spans go to');

const toFile = {
  export(spans, done) {
    const lines = spans.map((span) =>
      JSON.stringify({
        name: span.name,
        id: span.spanContext().spanId,
        traceId: span.spanContext().traceId,
        parent: span.parentSpanContext?.spanId,
        attributes: span.attributes,
        status: span.status,
      }),
    );
    appendFileSync(file, lines.map((line) => `${line}\n`).join(''));
    done({ code: 0 });
  },
  shutdown: async () => {},
};

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(toFile, { scheduledDelayMillis: 60_000 })] }),
);
