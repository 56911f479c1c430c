/**
 * `batchguard/testing`: what a job's own tests need, kept out of the main entry so that production
 * code does not pull it in by accident. `ManualClock` is passed as `runJob`'s `clock` so retries,
 * backoff and timeouts run without waiting; `memoryLedger()` is a ledger a test can inspect after
 * the run; the fault injectors (`failTimes`, `failWith`, `hang`) make a handler fail the way a real
 * outage or a bad record would.
 */
export { ManualClock } from '../clock.js';
export { memoryLedger } from './memory-ledger.js';
export { failTimes, failWith, hang } from './fault-injectors.js';
export type { Fault, FaultContext, FaultError } from './fault-injectors.js';
