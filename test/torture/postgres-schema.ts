/**
 * A torture scenario's own schema in the test PostgreSQL (test/helpers/pg-config.ts), dropped at
 * its end, so scenarios never meet each other's ledgers. No vitest here: run.ts uses it too.
 */
import { createHash, randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_CONFIG } from '../helpers/pg-config.js';

/** Runs `scenario` with a fresh schema name, and drops that schema (and its tables) after it. */
export async function inFreshPgSchema<T>(scenario: (schema: string) => Promise<T>): Promise<T> {
  const schema = `bg_torture_${randomBytes(5).toString('hex')}`;
  try {
    return await scenario(schema);
  } finally {
    const client = new pg.Client(PG_CONFIG);
    await client.connect();
    try {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    } finally {
      await client.end();
    }
  }
}

/**
 * A hash of every row of every table in `schema` (each table's rows as text, sorted), to prove a
 * refused run wrote nothing anywhere in the ledger, which no Ledger method could show.
 */
export async function pgContentHash(schema: string): Promise<string> {
  const client = new pg.Client(PG_CONFIG);
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      'SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    const hash = createHash('sha256');
    for (const { name } of tables.rows) {
      const rows = await client.query<{ digest: string | null }>(
        `SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest FROM "${schema}"."${name}" t`,
      );
      hash.update(`${name} ${rows.rows[0]?.digest ?? ''}\n`);
    }
    return hash.digest('hex');
  } finally {
    await client.end();
  }
}

/** The number of tables in `schema` (0 when there is no such schema). */
export async function pgTableCount(schema: string): Promise<number> {
  const client = new pg.Client(PG_CONFIG);
  await client.connect();
  try {
    const result = await client.query<{ n: string }>('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = $1', [
      schema,
    ]);
    return Number(result.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
