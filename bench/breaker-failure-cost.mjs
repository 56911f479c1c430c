/**
 * CPU per failed call through the standalone circuitBreaker (src/standalone/circuit-breaker.ts): a
 * call that throws a retryable error (HTTP 503) from ten frames deep, as a call inside a service
 * client would. Every other call succeeds, so that the breaker (opening at 1,000 failures in a row
 * or 90% of recent calls failed) never opens and every call runs and is recorded; the figure is the
 * CPU of a failed and a successful call less that of two successful ones. Usage:
 *   node bench/breaker-failure-cost.mjs [calls] [distDir]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [callsArg = '50000', distArg = 'dist'] = process.argv.slice(2);
const calls = Number(callsArg);
const { circuitBreaker } = await import(pathToFileURL(resolve(distArg, 'index.js')).href);

const breaker = circuitBreaker({ consecutiveFailures: 1000, failureRate: 0.9 });
const deep = (depth, id) => {
  if (depth === 0) throw Object.assign(new Error(`GET /items/${id}: service unavailable`), { status: 503 });
  return deep(depth - 1, id);
};

/** CPU (µs) of `count` pairs of calls: a failure and a success, or two successes. */
async function pairs(count, failing) {
  const before = process.cpuUsage();
  for (let id = 0; id < count; id++) {
    try {
      await breaker.execute(() => (failing ? deep(10, id) : id));
    } catch {
      // The failure is what is measured.
    }
    await breaker.execute(() => id);
  }
  const cpu = process.cpuUsage(before);
  return cpu.user + cpu.system;
}

await pairs(calls / 10, true);
await pairs(calls / 10, false);
const failingUs = await pairs(calls, true);
const succeedingUs = await pairs(calls, false);
console.log(
  JSON.stringify({
    calls,
    cpuUsPerFailedCall: +((failingUs - succeedingUs) / calls).toFixed(2),
    state: breaker.state,
    trips: breaker.trip ? 1 : 0,
  }),
);
