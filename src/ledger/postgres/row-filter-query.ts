/**
 * The page query of `rows(filter)`: the filter's fields as parameters (never spliced into the
 * text), and the last sequence number read as the final parameter, for keyset pagination.
 */
import type { RowFilter } from '../ledger.js';
import { PAGE_ROWS } from './sql/reads.js';

/** The optional narrowing fields of a RowFilter and their columns. */
const FILTER_COLUMNS = [
  ['fingerprint', 'fingerprint'],
  ['kind', 'kind'],
  ['runId', 'run_id'],
  ['key', 'key'],
] as const;

export function rowFilterQuery(schema: string, jobId: number, filter: RowFilter): { text: string; values: unknown[] } {
  const values: unknown[] = [jobId, filter.statuses];
  const where = ['job_id = $1', 'status = ANY($2::text[])'];
  for (const [field, column] of FILTER_COLUMNS) {
    const value = filter[field];
    if (value === undefined) continue;
    values.push(value);
    where.push(`${column} = $${values.length}`);
  }
  where.push(`seq > $${values.length + 1}`);
  return { text: `SELECT * FROM "${schema}".records WHERE ${where.join(' AND ')} ORDER BY seq LIMIT ${PAGE_ROWS}`, values };
}
