/**
 * A PostgreSQL table as a source, read in key order by keyset pagination (`WHERE key > last ORDER
 * BY key LIMIT n`): each page is an index range scan, however deep into the table, where OFFSET
 * would rescan every row before the page. Seekable by key, so a resume and a worker's chunk start
 * where they should without reading what comes before.
 */
import { ConfigError, SourceError } from '../errors.js';
import { checkInteger, checkKnownKeys } from '../validation/check.js';
import type { Source, SourceItem, SourcePosition } from './source.js';

/** What the source needs of node-postgres: a `pg.Pool` (or `pg.Client`) has it. */
export interface PostgresQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

/** Options of {@link postgresTable}. */
export interface PostgresTableOptions {
  /**
   * The connection to read with, e.g. `new pg.Pool({ connectionString, allowExitOnIdle: true })`.
   * The job owns it: batchguard never closes it.
   */
  readonly pool: PostgresQueryable;
  /** The table, `name` or `schema.name`. */
  readonly table: string;
  /**
   * The column the records are ordered and split by: unique, not null, of an integer type
   * (`integer`, `bigint`; values up to 2^53), ideally the primary key.
   */
  readonly key: string;
  /** The columns each record has. @default every column (`*`) */
  readonly columns?: readonly string[];
  /** Rows fetched per query. @default 1000 */
  readonly pageSize?: number;
}

const KNOWN = ['pool', 'table', 'key', 'columns', 'pageSize'];

/**
 * A source reading the rows of a table in the order of its integer `key` column, each row one
 * record (an object of its columns). Positions: `seq` counts rows from 0 in key order; `offset` is
 * the row's key, which `read(from)` seeks to.
 *
 * The table must not change under a run: a row inserted or deleted below the rows not yet read
 * shifts the sequence numbers of the rest (as an edit in the middle of a file would).
 *
 * @example postgresTable<Order>({ pool, table: 'shop.orders', key: 'id' })
 * @throws {ConfigError} for a missing or bad option.
 */
export function postgresTable<T = Record<string, unknown>>(options: PostgresTableOptions): Source<T> {
  checkKnownKeys(options, 'postgresTable', KNOWN);
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new ConfigError(`postgresTable.${field} must be ${expected}, got ${describeCell(value)}`, { field: `postgresTable.${field}` });
  };
  const { pool, table, key, columns } = options;
  if (typeof pool?.query !== 'function') fail('pool', 'a pg.Pool or pg.Client', pool);
  if (typeof table !== 'string' || !/^[^.]+(\.[^.]+)?$/.test(table)) fail('table', "a table name, 'name' or 'schema.name'", table);
  if (typeof key !== 'string' || key.length === 0) fail('key', 'a column name', key);
  if (
    columns !== undefined &&
    (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === 'string' && c.length > 0))
  ) {
    fail('columns', 'a non-empty array of column names', columns);
  }
  const pageSize = checkInteger(options.pageSize, 'postgresTable.pageSize', 1000, 1, 1_000_000);
  const tableSql = table.split('.').map(quote).join('.');
  const keySql = quote(key);
  const select = columns === undefined ? '*' : [...new Set([key, ...columns])].map(quote).join(', ');
  const description = `postgres-table:${table}`;
  const query = {
    from: `SELECT ${select} FROM ${tableSql} WHERE ${keySql} >= $1 ORDER BY ${keySql} LIMIT ${pageSize}`,
    after: `SELECT ${select} FROM ${tableSql} WHERE ${keySql} > $1 ORDER BY ${keySql} LIMIT ${pageSize}`,
    first: `SELECT ${select} FROM ${tableSql} ORDER BY ${keySql} LIMIT ${pageSize}`,
    pageSize,
  };
  return {
    description,
    seekable: true,
    fingerprint: () => Promise.resolve({ description }),
    read: (from, signal) => readTable<T>(pool, query, key, description, columns === undefined || columns.includes(key), from, signal),
  };
}

async function* readTable<T>(
  pool: PostgresQueryable,
  query: { from: string; after: string; first: string; pageSize: number },
  key: string,
  description: string,
  keepKey: boolean,
  from: SourcePosition | undefined,
  signal: AbortSignal | undefined,
): AsyncGenerator<SourceItem<T>> {
  const seeking = from?.offset !== undefined;
  let seq = seeking ? (from?.seq ?? 0) : 0;
  const skipBelow = seeking ? 0 : (from?.seq ?? 0);
  let page = await fetch(pool, seeking ? query.from : query.first, seeking ? [from?.offset] : [], description);
  for (;;) {
    let last: number | undefined;
    for (const row of page) {
      signal?.throwIfAborted();
      last = keyOf(row, key, description);
      const position = { seq: seq++, offset: last };
      if (position.seq < skipBelow) continue;
      if (!keepKey) delete row[key];
      yield { kind: 'record', position, value: row as T };
    }
    // A page shorter than the LIMIT is the last one: no query for an empty page after it.
    if (last === undefined || page.length < query.pageSize) return;
    page = await fetch(pool, query.after, [last], description);
  }
}

async function fetch(pool: PostgresQueryable, text: string, values: unknown[], description: string): Promise<Record<string, unknown>[]> {
  try {
    return (await pool.query(text, values)).rows;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SourceError('SOURCE_UNREADABLE', `cannot read source ${description}: ${reason}`, { cause: error });
  }
}

/** The row's key as a number: the position's offset, which must survive a round trip through JSON. */
function keyOf(row: Record<string, unknown>, key: string, description: string): number {
  const value = row[key];
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) {
    throw new SourceError(
      'SOURCE_UNREADABLE',
      `cannot read source ${description}: its key column ${key} must hold integers up to 2^53 (integer or bigint), got ${describeCell(value)}`,
    );
  }
  return number;
}

function quote(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function describeCell(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object without query()';
  return String(value);
}
