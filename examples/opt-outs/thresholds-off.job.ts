/**
 * Opt-out: no failure threshold (`maxFailureRate: 1`, and no `maxFailures`). The run exits 0
 * however many records failed; the failures are the report.
 *
 * Choose it when failures are the point of the job, not a sign that it went wrong: a data-quality
 * audit whose failures are the rows to fix, a migration dry run that lists what would not convert.
 * Keep a threshold (the default 5%) for jobs whose failures mean a scheduler should be told.
 *
 *   npx batchguard run examples/opt-outs/thresholds-off.job.ts && npx batchguard failures examples/opt-outs/thresholds-off.job.ts
 */
import { defineJob, FatalError } from 'batchguard';

const rows = [
  { id: 1, email: 'ada@example.com', country: 'GB' },
  { id: 2, email: 'not-an-email', country: 'FR' },
  { id: 3, email: 'grace@example.com', country: '' },
  { id: 4, email: 'alan@example.com', country: 'GB' },
];

export default defineJob({
  name: 'audit-customers',
  source: rows,
  key: (row) => String(row.id),
  maxFailureRate: 1,
  handler: (row) => {
    if (!/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(row.email)) throw new FatalError('email is not an address', { group: 'bad-email' });
    if (row.country === '') throw new FatalError('country is missing', { group: 'missing-country' });
    return 'ok';
  },
});
