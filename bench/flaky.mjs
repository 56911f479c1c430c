#!/usr/bin/env node
/**
 * How batchguard's defaults behave against a degraded (not down) upstream, each case against its
 * baseline, on local HTTP services in this process (node:http, real sockets):
 *   1. 40% of calls fail at random (no Retry-After): defaults vs breaker and retry budget off
 *      (target: ≤ 1.5×, and no record failed that succeeds with them off);
 *   2. 5% of records get one 503 with Retry-After: 1: vs no 503 at all (target: ≤ + ~1.5 s);
 *   3. capacity for 8 concurrent requests, 503 beyond it: concurrency { min: 1, max: 64 } vs a
 *      fixed 64 (target: ≤ a quarter of its 503s) and a fixed 8 (target: ≤ 1.3× its time).
 * Usage: npm run bench:flaky   (RECORDS=300 for a quicker look)
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, runJob } from '../dist/index.js';

const RECORDS = Number(process.env.RECORDS ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-flaky-'));
let runs = 0;

/** A local service: `answer(url, inFlight)` gives { status, retryAfter?, delayMs }. */
async function service(answer) {
  let inFlight = 0;
  const counts = { calls: 0, unavailable: 0 };
  const server = createServer((req, res) => {
    inFlight++;
    counts.calls++;
    const { status, retryAfter, delayMs } = answer(new URL(req.url, 'http://x'), inFlight);
    if (status === 503) counts.unavailable++;
    setTimeout(() => {
      inFlight--;
      res.writeHead(status, retryAfter ? { 'retry-after': String(retryAfter) } : {});
      res.end(status === 200 ? '{"ok":true}' : '');
    }, delayMs);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

async function run(name, port, options) {
  const job = defineJob({
    name,
    source: Array.from({ length: RECORDS }, (_, i) => ({ id: i })),
    key: (r) => String(r.id),
    concurrency: 16,
    retry: { maxAttempts: 5 },
    ...options,
    handler: async (r, ctx) => {
      const response = await fetch(`http://127.0.0.1:${port}/item?key=${ctx.key}&attempt=${ctx.attempt}`);
      if (!response.ok)
        throw Object.assign(new Error(`upstream answered ${response.status}`), { status: response.status, headers: response.headers });
      return response.json();
    },
  });
  const started = performance.now();
  const summary = await runJob(job, {
    ledger: join(dir, `${name}-${++runs}.sqlite`),
    maxFailureRate: 1,
    onEvent: process.env.DEBUG
      ? (e) => console.error(e.type, e.key ?? '', e.error?.message ?? '', e.description ?? '', e.parked ?? '')
      : undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, summary };
}

/** A decision per key+attempt that does not depend on timing: a hash. */
function hash(text) {
  return createHash('sha256').update(text).digest().readUInt32BE(0) / 4294967296;
}

const fmt = (n) => n.toFixed(2);
const line = (text) => process.stdout.write(`${text}\n`);

try {
  line(`bench:flaky, ${RECORDS} records per run, concurrency 16 unless said`);

  // 1. 40% of calls fail at random (per key+attempt, so both runs see the same upstream).
  {
    const s = await service((url) => ({ status: hash(url.search) < 0.4 ? 500 : 200, delayMs: 5 }));
    const off = await run('random-40-off', s.port, { breaker: { enabled: false }, retryBudget: { enabled: false } });
    const on = await run('random-40-defaults', s.port, {});
    await s.close();
    line(
      `1. 40% failing at random: breaker+budget off ${fmt(off.seconds)} s (failed ${off.summary.failed}), defaults ${fmt(on.seconds)} s (failed ${on.summary.failed}, trips ${on.summary.breaker.trips}, retries deferred ${on.summary.breaker.retriesDeferred}); ratio ${fmt(on.seconds / off.seconds)} (target ≤ 1.5)`,
    );
  }

  // 2. 5% of records get one 503 with Retry-After: 1 on their first attempt.
  {
    const s = await service((url) => {
      const key = url.searchParams.get('key');
      const first = url.searchParams.get('attempt') === '1';
      return first && hash(`r${key}`) < 0.05 ? { status: 503, retryAfter: 1, delayMs: 10 } : { status: 200, delayMs: 10 };
    });
    const clean = await service(() => ({ status: 200, delayMs: 10 }));
    const base = await run('no-503', clean.port, {});
    const some = await run('five-percent-503', s.port, {});
    await s.close();
    await clean.close();
    line(
      `2. 5% of records one 503 + Retry-After 1: no 503 ${fmt(base.seconds)} s, with ${fmt(some.seconds)} s (${s.counts.unavailable} 503s); extra ${fmt(some.seconds - base.seconds)} s (target ≤ ~1.5 s)`,
    );
  }

  // 3. Capacity for 8 concurrent requests; 503 beyond it (no Retry-After).
  {
    const capacity = () => service((_url, inFlight) => (inFlight > 8 ? { status: 503, delayMs: 1 } : { status: 200, delayMs: 20 }));
    const results = {};
    for (const [name, concurrency] of [
      ['fixed-64', 64],
      ['adaptive-1-64', { min: 1, max: 64 }],
      ['fixed-8', 8],
    ]) {
      const s = await capacity();
      const result = await run(name, s.port, {
        concurrency,
        retry: { maxAttempts: 20, backoff: { kind: 'exponential', initialDelayMs: 20, maxDelayMs: 1000, jitter: 'full' } },
      });
      await s.close();
      results[name] = { ...result, unavailable: s.counts.unavailable };
      line(
        `3. capacity 8, ${name}: ${fmt(result.seconds)} s, ${s.counts.unavailable} 503s, failed ${result.summary.failed}${result.summary.concurrency ? `, limit ${JSON.stringify(result.summary.concurrency)}` : ''}`,
      );
    }
    const adaptive = results['adaptive-1-64'];
    line(
      `3. adaptive vs fixed 64: 503s ${adaptive.unavailable} / ${results['fixed-64'].unavailable} = ${fmt(adaptive.unavailable / Math.max(1, results['fixed-64'].unavailable))} (target ≤ 0.25); time vs fixed 8: ${fmt(adaptive.seconds / results['fixed-8'].seconds)} (target ≤ 1.3)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
