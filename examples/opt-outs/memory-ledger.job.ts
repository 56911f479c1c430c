/**
 * Opt-out: no ledger file (`ledger: 'memory'`). Record isolation, retries and the summary, but
 * nothing is kept: no resume, no run reports, no `.batchguard/` folder.
 *
 * Choose it when redoing the whole job costs less than keeping track of it: a few hundred records,
 * a job run from a test or a one-off script, a read-only check whose handler has no side effects.
 * A crash then means running everything again.
 *
 *   npx batchguard run examples/opt-outs/memory-ledger.job.ts
 */
import { defineJob } from 'batchguard';

const hosts = ['example.com', 'localhost', 'not a host', 'example.org', 'bad..dots', 'sub.example.net'];

export default defineJob({
  name: 'check-hostnames',
  source: hosts,
  key: (host) => host,
  ledger: 'memory',
  maxFailureRate: 1,
  handler: (host) => {
    // A pure check: nothing to resume, nothing to undo.
    if (!/^(?!-)[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*$/i.test(host)) throw new TypeError(`"${host}" is not a valid hostname`);
    return { host, labels: host.split('.').length };
  },
});
