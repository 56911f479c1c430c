/**
 * The page query of `rows(filter)`: the filter's fields as parameters (never spliced into the
 * text), and the last sequence number read as the final parameter, for keyset pagination.
 */
import type { RowFilter } from '../ledger.js';
import { filterConditions } from '../row-filter.js';
import { PAGE_ROWS } from './sql/reads.js';

export function rowFilterQuery(schema: string, jobId: number, filter: RowFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [jobId, filter.statuses];
  const where = [
    'job_id = $1',
    'status = ANY($2::text[])',
    ...filterConditions(filter, (value) => {
      values.push(value);
      return `$${values.length}`;
    }),
  ];
  where.push(`seq > $${values.length + 1}`);
  return { text: `SELECT * FROM "${schema}".records WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${PAGE_ROWS}`, values };
}
