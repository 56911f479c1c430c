/**
 * A RowFilter's optional fields as SQL conditions, for both backends (the same columns): each value
 * is a parameter, never spliced into the text. The status condition is each backend's own (a list of
 * placeholders, or an array parameter).
 */
import type { RowFilter } from './ledger.js';

/** The optional narrowing fields of a RowFilter and their columns. */
const FILTER_COLUMNS = [
  ['fingerprint', 'fingerprint'],
  ['kind', 'kind'],
  ['runId', 'run_id'],
  ['key', 'key'],
] as const;

/** `column = <placeholder>` for each field `filter` sets; `parameter(value)` adds the value and returns its placeholder. */
export function filterConditions(filter: RowFilter, parameter: (value: unknown) => string): string[] {
  const conditions: string[] = [];
  for (const [field, column] of FILTER_COLUMNS) {
    const value = filter[field];
    if (value !== undefined) conditions.push(`${column} = ${parameter(value)}`);
  }
  if (filter.seqs !== undefined) conditions.push(`seq BETWEEN ${parameter(filter.seqs.first)} AND ${parameter(filter.seqs.last)}`);
  return conditions;
}
