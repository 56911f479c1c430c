/**
 * One measurement of bench/postgres-ledger.mjs, in its own process: a no-op job over the JSONL
 * file with the given ledger. Prints one JSON line.
 */
import { defineJob, jsonl, runJob } from '../dist/index.js';

const [data, ledger, pgSchema] = process.argv.slice(2);
const job = defineJob({ name: 'bench-ledger', source: jsonl(data), key: (r) => String(r.id), handler: async () => {}, maxFailureRate: 1 });
const started = performance.now();
const summary = await runJob(job, { ledger, ...(pgSchema ? { pgSchema } : {}) });
console.log(JSON.stringify({ succeeded: summary.succeeded, recordsPerSecond: summary.succeeded / ((performance.now() - started) / 1000) }));
