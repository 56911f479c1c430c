/**
 * Opt-out: no retries (`retry: { maxAttempts: 1 }`). Each record's handler is called once; a
 * failure is reported at once, and `batchguard rerun --failed` retries it when you decide.
 *
 * Choose it when a second call could do harm that the first one's failure did not tell you about:
 * a request that may have reached the other side before the error (a POST with no idempotency
 * key, a payment, a message sent), so that a retry could do it twice. Check the failures, then rerun.
 * (When the other side does accept an idempotency key, keep retries and pass `ctx.idempotencyKey`.)
 *
 *   npx batchguard run examples/opt-outs/no-retries.job.ts
 */
import { defineJob } from 'batchguard';

const transfers = [
  { id: 't1', amount: 120 },
  { id: 't2', amount: -5 },
  { id: 't3', amount: 40 },
  { id: 't4', amount: 99_999 },
];

/** Stands in for a bank API that cannot de-duplicate: every call that arrives moves money. */
function submitTransfer(transfer: { id: string; amount: number }): string {
  if (transfer.amount <= 0) throw new RangeError(`transfer ${transfer.id}: amount must be positive`);
  if (transfer.amount > 10_000) throw new Error(`transfer ${transfer.id}: the bank timed out (the transfer may have gone through)`);
  return `receipt-${transfer.id}`;
}

export default defineJob({
  name: 'submit-transfers',
  source: transfers,
  key: (t) => t.id,
  retry: { maxAttempts: 1 },
  maxFailureRate: 1,
  handler: (transfer) => submitTransfer(transfer),
});
