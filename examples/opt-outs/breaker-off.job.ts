/**
 * Opt-out: no circuit breaker (`breaker: { enabled: false }`). Failures never stop the run: every
 * record is tried (with its retries) and ends succeeded or failed.
 *
 * Choose it when the records do not share one upstream, so that many failures in a row are not an
 * outage: checking links on many different hosts, reading files from many buckets. With the breaker
 * on, a run of dead hosts would park the records behind them and abort the run (exit code 3); here
 * each dead host is just that record's failure.
 *
 *   npx batchguard run examples/opt-outs/breaker-off.job.ts
 */
import { defineJob } from 'batchguard';

// Ten hosts that refuse connections one after another, then one that answers.
const links = [...Array.from({ length: 10 }, (_, i) => `https://gone-${i}.example/`), 'https://alive.example/'];

/** Stands in for fetch: the gone-* hosts refuse the connection (a retryable network error). */
async function check(url: string): Promise<number> {
  if (url.includes('gone-')) throw Object.assign(new Error(`connect ECONNREFUSED ${new URL(url).host}`), { code: 'ECONNREFUSED' });
  return 200;
}

export default defineJob({
  name: 'check-links',
  source: links,
  key: (url) => url,
  breaker: { enabled: false },
  retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 10 } },
  maxFailureRate: 1,
  handler: (url) => check(url),
});
