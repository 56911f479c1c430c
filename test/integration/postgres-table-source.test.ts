/**
 * postgresTable against the real PostgreSQL: key order across pages, seeking by key, chunks that
 * cover the table exactly, and the errors of a bad key column or a missing table.
 */
import { expect, it } from 'vitest';
import { ConfigError, SourceError } from '../../src/errors.js';
import { planChunks } from '../../src/distributed/chunk-plan.js';
import { readChunk } from '../../src/distributed/read-chunk.js';
import { postgresTable } from '../../src/sources/postgres-table.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';
import { collect } from '../helpers/sources.js';

describePg('postgresTable', () => {
  const pool = pgPool();

  /** A table of `rows` rows with keys 3, 6, 9, … inserted in shuffled order. */
  async function table(rows: number): Promise<string> {
    const schema = freshSchema('bg_table');
    await pool.query(`CREATE SCHEMA "${schema}"`);
    await pool.query(`CREATE TABLE "${schema}".items (id bigint PRIMARY KEY, name text NOT NULL, label text)`);
    await pool.query(`INSERT INTO "${schema}".items SELECT g * 3, 'n' || g, NULL FROM generate_series(1, $1) g ORDER BY random()`, [rows]);
    return `${schema}.items`;
  }

  it('reads every row once in key order across pages, with its key as the position', async () => {
    const name = await table(2503);
    const items = await collect(postgresTable({ pool, table: name, key: 'id', pageSize: 100 }).read());
    expect(items).toHaveLength(2503);
    expect(items[0]).toEqual({ kind: 'record', position: { seq: 0, offset: 3 }, value: { id: '3', name: 'n1', label: null } });
    expect(items.every((item, i) => item.position.seq === i && item.position.offset === (i + 1) * 3)).toBe(true);
  });

  it('reads only the chosen columns, the key column left out unless chosen', async () => {
    const name = await table(3);
    const items = await collect(postgresTable({ pool, table: name, key: 'id', columns: ['name'] }).read());
    expect(items.map((item) => item.kind === 'record' && item.value)).toEqual([{ name: 'n1' }, { name: 'n2' }, { name: 'n3' }]);
  });

  it('seeks to a position by its key, and counts up to a position that has none', async () => {
    const name = await table(50);
    const source = postgresTable({ pool, table: name, key: 'id', pageSize: 7 });
    const fromKey = await collect(source.read({ seq: 40, offset: 123 }));
    expect(fromKey.map((item) => item.position)).toEqual(Array.from({ length: 10 }, (_, i) => ({ seq: 40 + i, offset: (41 + i) * 3 })));
    const fromSeq = await collect(source.read({ seq: 40 }));
    expect(fromSeq).toEqual(fromKey);
  });

  it('splits into key ranges that cover the table exactly', async () => {
    const name = await table(1000);
    const source = postgresTable({ pool, table: name, key: 'id', pageSize: 64 });
    const plan = await planChunks(source, { recordsPerChunk: 300 });
    expect(plan.chunks.map((c) => [c.from, c.count])).toEqual([
      [{ seq: 0, offset: 3 }, 300],
      [{ seq: 300, offset: 903 }, 300],
      [{ seq: 600, offset: 1803 }, 300],
      [{ seq: 900, offset: 2703 }, 100],
    ]);
    const pieces = [];
    for (const chunk of plan.chunks) pieces.push(...(await collect(readChunk(source, chunk))));
    expect(pieces).toEqual(await collect(source.read()));
  });

  it('names a key column that does not hold integers, and a table that does not exist', async () => {
    const name = await table(2);
    await expect(collect(postgresTable({ pool, table: name, key: 'name' }).read())).rejects.toThrow(
      new SourceError(
        'SOURCE_UNREADABLE',
        `cannot read source postgres-table:${name}: its key column name must hold integers up to 2^53 (integer or bigint), got "n1"`,
      ),
    );
    await expect(collect(postgresTable({ pool, table: 'public.no_such_table_here', key: 'id' }).read())).rejects.toThrow(
      'cannot read source postgres-table:public.no_such_table_here: relation "public.no_such_table_here" does not exist',
    );
  });

  it('refuses bad options, naming the field', () => {
    expect(() => postgresTable({ pool, table: 'a.b.c', key: 'id' })).toThrow(
      new ConfigError(`postgresTable.table must be a table name, 'name' or 'schema.name', got "a.b.c"`, { field: 'postgresTable.table' }),
    );
    expect(() => postgresTable({ pool: {} as never, table: 't', key: 'id' })).toThrow(
      'postgresTable.pool must be a pg.Pool or pg.Client, got an object without query()',
    );
    expect(() => postgresTable({ pool, table: 't', key: 'id', pageSize: 0 })).toThrow(ConfigError);
    expect(() => postgresTable({ pool, table: 't', key: 'id', columns: [] })).toThrow(
      'postgresTable.columns must be a non-empty array of column names, got an array',
    );
  });
});
