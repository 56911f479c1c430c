/**
 * Prometheus metrics of a run, served on `/metrics` through the optional dependency `prom-client`
 * (loaded only when asked for). Counts are read from the run's progress at scrape time, so they
 * cost nothing per record; durations come from the `attempt:ended` and `checkpoint` events.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EngineEvent } from '../events/engine-event.js';
import type { Progress } from '../events/progress.js';
import { hostAllowed, misaddressed } from './local-host.js';

/** What `batchguard_breaker_state` reports. */
export const BreakerStateValue = { closed: 0, open: 1, halfOpen: 2 } as const;

export interface MetricsOptions {
  /** The TCP port; 0 picks a free one (see `url`). */
  readonly port: number;
  /** The address to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** The run's progress now, or undefined before the run has started. */
  readonly progress: () => Progress | undefined;
  /**
   * The concurrency limit shown before the run has started; then the run's own limit is read at each
   * scrape (it moves with `concurrency: { min, max }`).
   */
  readonly concurrencyLimit: number;
}

export interface MetricsServer {
  /** Where the metrics are served, e.g. `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  readonly onEvent: (event: EngineEvent) => void;
  /** The event types `onEvent` reads (the run's `eventTypes`): no other is built for it. */
  readonly eventTypes: readonly EngineEvent['type'][];
  close(): Promise<void>;
}

/** Handler calls take from a millisecond to minutes: buckets in seconds. */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Starts the metrics server; throws a clear error when `prom-client` is missing or the port is taken. */
export async function startMetrics(options: MetricsOptions): Promise<MetricsServer> {
  let prom: typeof import('prom-client');
  try {
    prom = await import('prom-client');
  } catch {
    throw new Error('--metrics-port needs the package prom-client: npm install prom-client@15');
  }
  const registry = new prom.Registry();
  const progress = (): Progress | undefined => options.progress();
  let skipped = 0;
  new prom.Counter({
    name: 'batchguard_records_total',
    help: 'Records finished in this run, by outcome.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      const p = progress();
      this.reset();
      this.labels('succeeded').inc(p?.succeeded ?? 0);
      this.labels('failed').inc(p?.failed ?? 0);
      this.labels('skipped').inc(skipped);
    },
  });
  new prom.Counter({
    name: 'batchguard_attempts_total',
    help: 'Handler calls started in this run.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(progress()?.attempts ?? 0);
    },
  });
  new prom.Counter({
    name: 'batchguard_retries_total',
    help: 'Attempts that were retries in this run.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(progress()?.retries ?? 0);
    },
  });
  new prom.Gauge({
    name: 'batchguard_in_flight',
    help: 'Records holding a concurrency slot now: running an attempt (a record waiting for a retry or a rate-limit token holds none).',
    registers: [registry],
    collect() {
      this.set(progress()?.inFlight ?? 0);
    },
  });
  new prom.Gauge({
    name: 'batchguard_concurrency_limit',
    help: 'Records allowed to hold a concurrency slot at once now (it adapts with concurrency: { min, max }).',
    registers: [registry],
    collect() {
      this.set(progress()?.concurrencyLimit ?? options.concurrencyLimit);
    },
  });
  const breaker = new prom.Gauge({
    name: 'batchguard_breaker_state',
    help: 'The circuit breaker: 0 closed, 1 open, 2 half-open.',
    registers: [registry],
  });
  breaker.set(BreakerStateValue.closed);
  const handler = new prom.Histogram({
    name: 'batchguard_handler_duration_seconds',
    help: 'Duration of handler calls, by outcome of the call.',
    labelNames: ['outcome'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const commit = new prom.Histogram({
    name: 'batchguard_commit_duration_seconds',
    help: 'Duration of group commits to the ledger (with the output sink).',
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });

  const host = options.host ?? '127.0.0.1';
  const server: Server = createServer((request, response) => {
    if (!hostAllowed(host, request.headers.host)) {
      response.writeHead(403, { 'content-type': 'text/plain' }).end(misaddressed(request.headers.host ?? '', '--metrics-host'));
      return;
    }
    if (request.method !== 'GET' || request.url?.split('?')[0] !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('batchguard serves only /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`--metrics-port ${options.port}: cannot listen on ${host}:${options.port} (${error.code ?? error.message})`)),
    );
    server.listen(options.port, host, () => resolve());
  });
  // Scrapes must not keep a finished run's process alive.
  server.unref();
  const address = server.address() as AddressInfo;
  const hostText = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostText}:${address.port}/metrics`,
    eventTypes: ['attempt:ended', 'checkpoint', 'record:skipped', 'breaker:opened', 'breaker:half-open', 'breaker:closed'],
    onEvent(event) {
      // Counts are read from the run's progress at scrape time; only durations and states come from events.
      if (event.type === 'attempt:ended') handler.labels(event.outcome).observe(event.durationMs / 1000);
      else if (event.type === 'checkpoint') commit.observe(event.durationMs / 1000);
      else if (event.type === 'record:skipped') skipped++;
      else if (event.type === 'breaker:opened') breaker.set(BreakerStateValue.open);
      else if (event.type === 'breaker:half-open') breaker.set(BreakerStateValue.halfOpen);
      else if (event.type === 'breaker:closed') breaker.set(BreakerStateValue.closed);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
