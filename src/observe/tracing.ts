/**
 * OpenTelemetry tracing of a run (the job's `tracing` option), as an observer of the engine's
 * events plus one hook where the engine calls the handler: each call runs inside its attempt's
 * span, so the spans the handler makes (an instrumented HTTP client, `tracer.startActiveSpan`)
 * become its children, and a service's trace hangs under the record that caused it.
 *
 * `@opentelemetry/api` is an optional peer dependency, imported only when a job turns tracing on;
 * the exporter, the sampler and the context manager are the program's (its tracer provider). A
 * missing package is no reason to lose a batch: the run goes on untraced and its summary says why.
 * Nothing here may fail a record or the run: a failure of the tracing itself ends up as a warning.
 */
import type { EngineEvent } from '../events/engine-event.js';
import type { RunObserver } from '../events/run-observer.js';
import type { ResolvedTracing } from './tracing-options.js';
import { RunSpans, type OtelApi } from './tracing-spans.js';

/** The tracing of one run: an observer of its events, and the hooks the engine calls. */
export interface RunTracing extends RunObserver {
  /** Loads `@opentelemetry/api` and opens the run's span; never throws (a failure becomes a warning). */
  start(): Promise<void>;
  /** Whether the run's span records (known after `start()`): without it, attempts need no hook. */
  readonly recording: boolean;
  /** Calls `call` (the handler's call) inside the attempt's span, opened here. */
  readonly runAttempt: (key: string, attempt: number, call: () => unknown) => unknown;
  /** Runs `fn` with the run's span active. */
  inRun<R>(fn: () => R): R;
  /**
   * Ends every span still open, and the run's (`error` is what ended the run by throwing, if anything
   * did), then waits, at most `FLUSH_TIMEOUT_MS`, for the provider to hand its spans to the exporter.
   */
  end(error?: unknown): Promise<void>;
}

/** How the API package is loaded; replaced only by tests. */
export type LoadOtel = () => Promise<OtelApi>;

const PACKAGE = '@opentelemetry/api';

/**
 * How long the end of a run waits for the tracer provider's flush. A batching span processor holds
 * spans for seconds, and the CLI exits as soon as the run ends: without the flush, the last batch of
 * every run (often all of a short one) would be lost. A collector that does not answer must not
 * hold the end of the run for long.
 */
export const FLUSH_TIMEOUT_MS = 5000;

/** The tracing of run `runId` of job `job`; nothing is loaded until `start()`. */
export function runTracing(settings: ResolvedTracing, job: string, runId: string, load: LoadOtel = loadOtel): RunTracing {
  let api: OtelApi | undefined;
  let spans: RunSpans | undefined;
  /** Spans for records and attempts are made only when the run's own span records. */
  let recording = false;
  const troubles: string[] = [];
  let failures = 0;
  const trouble = (what: string, error: unknown): void => {
    // One line, however many records it hit: a tracing bug must not flood the summary.
    if (failures++ === 0) troubles.push(`tracing: ${what}: ${describeTrouble(error)}; the run went on, with fewer spans`);
  };
  return {
    name: 'tracing',
    get recording() {
      return recording;
    },
    async start() {
      try {
        api = await load();
      } catch (error) {
        troubles.push(
          isNotFound(error)
            ? `tracing is on (the job's tracing option), but the package ${PACKAGE} cannot be found from batchguard; install it beside batchguard with \`npm install ${PACKAGE}@1\`; this run has no spans`
            : `tracing is on, but ${PACKAGE} could not be loaded (${describeTrouble(error)}); this run has no spans`,
        );
        return;
      }
      try {
        spans = new RunSpans(api, api.trace.getTracer(settings.tracerName), job, runId);
        // No provider registered, or the sampler left the run out: its records and attempts would
        // not be recorded either (their spans only cost time), and the handler's spans still get
        // the run's unsampled context from inRun, so the sampler leaves them out too.
        recording = spans.recording;
      } catch (error) {
        trouble('the run span could not be opened', error);
      }
    },
    runAttempt(key, attempt, call) {
      if (!recording || !spans || !api) return call();
      let context;
      try {
        context = spans.startAttempt(key, attempt);
      } catch (error) {
        trouble(`the span of an attempt of record ${JSON.stringify(key)} could not be opened`, error);
        return call();
      }
      return api.context.with(context, call);
    },
    onEvent(event: EngineEvent) {
      // What this throws, EngineEvents counts and names in the summary's warnings.
      if (recording) spans?.onEvent(event);
    },
    inRun(fn) {
      return spans ? spans.inRun(fn) : fn();
    },
    async end(error) {
      if (!spans || !api) return;
      try {
        spans.end(error);
      } catch (thrown) {
        trouble('the spans could not be ended', thrown);
      }
      await flush(api);
    },
    warnings() {
      return failures > 1 ? [...troubles, `tracing failed ${failures} time(s) in all`] : troubles;
    },
  };
}

/** Asks the registered provider (the SDK's has `forceFlush`; the API's proxy hides it behind `getDelegate`) to export what it holds. */
async function flush(api: OtelApi): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const proxy = api.trace.getTracerProvider() as { getDelegate?: () => unknown };
    const provider = (typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : proxy) as { forceFlush?: () => Promise<unknown> };
    if (typeof provider?.forceFlush !== 'function') return;
    const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, FLUSH_TIMEOUT_MS)));
    await Promise.race([provider.forceFlush(), deadline]);
  } catch {
    // An exporter that fails is the provider's to report; the run's outcome stands.
  } finally {
    clearTimeout(timer);
  }
}

async function loadOtel(): Promise<OtelApi> {
  const loaded = (await import('@opentelemetry/api')) as OtelApi & { default?: OtelApi };
  // The package is CommonJS: some loaders give its exports only as `default`.
  return typeof loaded.trace?.getTracer === 'function' ? loaded : (loaded.default as OtelApi);
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

function describeTrouble(error: unknown): string {
  try {
    return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 300);
  } catch {
    return 'an error that cannot be shown';
  }
}
