/**
 * `batchguard/testing`: what a job's own tests need, kept out of the main entry so that production
 * code does not pull it in by accident. `ManualClock` is passed as `runJob`'s `clock` so retries,
 * backoff and timeouts run without waiting; `memoryLedger()` is a ledger a test can inspect after
 * the run.
 */
export { ManualClock } from '../clock.js';
export { memoryLedger } from './memory-ledger.js';
