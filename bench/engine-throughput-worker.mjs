/**
 * One measurement of bench/engine-throughput.mjs, in its own process. Prints one JSON line.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { defineJob, jsonl, runJob } from '../dist/index.js';

const processStartMs = performance.timeOrigin;
const [mode, data, ledger] = process.argv.slice(2);
const noop = async () => {};

let cpuAtStart = process.cpuUsage();
let mainCpuAtStart = mainThreadCpuMs();

/**
 * CPU time of the main thread alone, in ms (Linux: its schedstat; NaN elsewhere): work moved to
 * another thread (the key index's spills) leaves the main thread's share of a record.
 */
function mainThreadCpuMs() {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

/**
 * BENCH_EVENTS=cli: the run has a subscriber like the CLI's without --verbose or --metrics-port (it
 * prints failures, breaker changes, the run's start and its end), declaring the event types it
 * reads (BENCH_EVENT_TYPES=none: declaring none, so it is given every event).
 */
let eventsShown = 0;
function listener() {
  if (process.env.BENCH_EVENTS !== 'cli') return {};
  const eventTypes = [
    'run:started',
    'record:failed',
    'breaker:opened',
    'breaker:half-open',
    'breaker:closed',
    'run:aborted',
    'run:deadline',
  ];
  const onEvent = (event) => {
    if (eventTypes.includes(event.type)) eventsShown++;
  };
  return process.env.BENCH_EVENT_TYPES === 'none' ? { onEvent } : { onEvent, eventTypes };
}

/** The start of what is measured: performance.now(), and the CPU time from here on. */
function begin() {
  cpuAtStart = process.cpuUsage();
  mainCpuAtStart = mainThreadCpuMs();
  return performance.now();
}

/** Prints the result with the peak RSS and the CPU time (user + system, all threads; the main thread's) since begin(). */
function report(result) {
  const cpu = process.cpuUsage(cpuAtStart);
  const mainCpuMs = mainThreadCpuMs() - mainCpuAtStart;
  console.log(
    JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024, cpuMs: (cpu.user + cpu.system) / 1000, mainCpuMs }),
  );
}

if (mode === 'bare') {
  const started = begin();
  let count = 0;
  const lines = createInterface({ input: createReadStream(data), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.length === 0) continue;
    await noop(JSON.parse(line));
    count++;
  }
  report({ recordsPerSecond: count / ((performance.now() - started) / 1000) });
} else if (mode === 'batchguard') {
  const tracing = await benchTracing(process.env.BENCH_TRACING);
  const job = defineJob({ name: 'bench', source: jsonl(data), key: (r) => String(r.id), handler: noop, maxFailureRate: 1, tracing });
  const started = begin();
  const summary = await runJob(job, { ledger, ...listener() });
  report({ recordsPerSecond: summary.succeeded / ((performance.now() - started) / 1000), eventsShown });
} else if (mode === 'prepare-resume') {
  const controller = new AbortController();
  const summary = await runJob(
    stoppingJob(() => controller.abort('bench')),
    { ledger, signal: controller.signal },
  );
  report({ alreadyDone: summary.succeeded });
} else if (mode === 'prepare-crash') {
  // SIGKILLed at its STOP_AT-th record: what a resume after a crash finds (only committed batches,
  // no filter kept at the end).
  await runJob(
    stoppingJob(() => process.kill(process.pid, 'SIGKILL')),
    { ledger },
  );
} else if (mode === 'resume') {
  let firstAt;
  let firstCpu;
  let processed = 0;
  const job = defineJob({
    name: 'bench',
    source: jsonl(data),
    key: (r) => String(r.id),
    maxFailureRate: 1,
    handler: async () => {
      if (firstAt === undefined) {
        firstAt = performance.now();
        firstCpu = process.cpuUsage(cpuAtStart);
      }
      processed++;
    },
  });
  const started = begin();
  const summary = await runJob(job, { ledger });
  report({
    firstRecordMs: firstAt - started,
    // CPU time (all threads) from runJob() to the first new record: steadier than wall time when
    // other work shares the machine's cores.
    firstRecordCpuMs: (firstCpu.user + firstCpu.system) / 1000,
    firstRecordFromStartMs: firstAt + performance.timeOrigin - processStartMs,
    alreadyDone: summary.alreadyDone,
    processed,
  });
}

/**
 * BENCH_TRACING=noop: the job's `tracing` on with no tracer provider registered (batchguard's own
 * bookkeeping, spans that record nothing); BENCH_TRACING=sdk: the OpenTelemetry SDK registered with
 * the AsyncLocalStorage context manager, spans batched to an exporter that drops them.
 */
async function benchTracing(kind) {
  if (kind === undefined || kind === '') return false;
  if (kind === 'sdk') {
    const { context, trace } = await import('@opentelemetry/api');
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const { BasicTracerProvider, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
    const dropping = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] }));
  } else if (kind !== 'noop') {
    throw new Error(`BENCH_TRACING must be noop or sdk; got ${JSON.stringify(kind)}`);
  }
  return true;
}

/** The bench job whose handler calls `stop` at its STOP_AT-th record. */
function stoppingJob(stop) {
  const stopAt = Number(process.env.STOP_AT);
  let handled = 0;
  return defineJob({
    name: 'bench',
    source: jsonl(data),
    key: (r) => String(r.id),
    maxFailureRate: 1,
    handler: async () => {
      if (++handled === stopAt) stop();
    },
  });
}
