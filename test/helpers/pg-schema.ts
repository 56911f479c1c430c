/**
 * Tests against the real PostgreSQL (127.0.0.1:5432, trust auth, database `test`), each in a schema
 * of its own, dropped after, so test files run in parallel. Unreachable: with CI=true the tests
 * fail with a message saying so; elsewhere they are skipped with a visible notice.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import { PG_CONFIG, PG_URL } from './pg-config.js';

export { PG_CONFIG, PG_URL };

async function reachable(): Promise<string | undefined> {
  const client = new pg.Client({ ...PG_CONFIG, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

const unreachable = await reachable();
if (unreachable !== undefined && process.env.CI !== 'true') {
  console.warn(`NOTICE: PostgreSQL tests skipped: ${PG_URL} is unreachable (${unreachable}); with CI=true they fail instead`);
}

/** `describe` for tests that need PostgreSQL (see the file's comment). */
export function describePg(name: string, body: () => void): void {
  if (unreachable === undefined) describe(name, body);
  else if (process.env.CI === 'true') {
    describe(name, () => {
      throw new Error(`PostgreSQL is unreachable at ${PG_URL}: ${unreachable}. The CI machine must run it (.ci/run starts it)`);
    });
  } else describe.skip(name, body);
}

/** A fresh schema name; {@link pgPool} drops every schema named so when the file's tests end. */
export function freshSchema(prefix = 'bg_test'): string {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  schemas.push(name);
  return name;
}

const schemas: string[] = [];

/** A pool for the test file, closed (after dropping the file's schemas) when its tests end. */
export function pgPool(): pg.Pool {
  const pool = new pg.Pool({ ...PG_CONFIG, max: 8 });
  afterAll(async () => {
    for (const schema of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await pool.end();
  });
  return pool;
}
