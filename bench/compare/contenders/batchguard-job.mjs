/**
 * The job both batchguard contenders run (only the ledger differs): default checkpointing, the same
 * retry policy as the other contenders (3 attempts, 10 ms apart; errors marked fatal are not
 * retried), CONCURRENCY records in flight, and no failure threshold. batchguard is the build as a
 * user's `import 'batchguard'` loads it: the package's export, dist/bundle/ (the code split there
 * loads the PostgreSQL ledger's code as one chunk at its first call; tsc's per-module files in
 * dist/ load it as some thirty files, ~40 ms more CPU in a 10,000-record run).
 */
import * as built from '../../../dist/bundle/index.js';

/** `lib` is the batchguard build to define it with (another checkout's dist/, to compare builds). */
export function benchJob({ data, handler, concurrency }, lib = built) {
  const { defineJob, jsonl } = lib;
  return defineJob({
    name: 'bench',
    source: jsonl(data),
    key: (record) => String(record.id),
    handler,
    concurrency,
    retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 10 } },
    classify: (error) => (error?.fatal ? 'fatal' : 'retryable'),
    maxFailureRate: 1,
  });
}
