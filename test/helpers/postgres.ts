/**
 * The real PostgreSQL the ledger tests use: `BATCHGUARD_TEST_PG` or the local server of these
 * machines (127.0.0.1:5432, trust auth, database `test`, user `postgres`). Each test gets its own
 * schema (random name, dropped after), so test files run in parallel.
 *
 * When the server cannot be reached: with CI=true the suite fails with a message saying so (a CI
 * that silently skipped the PostgreSQL tests would prove nothing); elsewhere its tests are skipped
 * and the notice is printed, so a developer without PostgreSQL sees what did not run.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

/** The test server's URL (no password on these machines). */
export const PG_URL = process.env.BATCHGUARD_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

let reachable: Promise<string | undefined> | undefined;

/** Undefined when the server answers; otherwise why not. */
export function postgresProblem(): Promise<string | undefined> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return `PostgreSQL at ${PG_URL} is unreachable (${(error as Error).message || String(error)})`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/**
 * `describe` for tests that need PostgreSQL: skipped with a visible notice when it is unreachable
 * outside CI, one failing test naming the problem in CI.
 */
export async function describePostgres(name: string, tests: () => void): Promise<void> {
  const problem = await postgresProblem();
  if (problem === undefined) {
    describe(name, tests);
  } else if (process.env.CI === 'true' || process.env.CI === '1') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(`${problem}: start it (\`.ci/run\` does) or set BATCHGUARD_TEST_PG`);
      });
    });
  } else {
    process.stderr.write(`\n[notice] skipping "${name}": ${problem}; set CI=true to make this a failure\n`);
    describe.skip(name, tests);
  }
}

/** A new schema name for one test: `bg_test_<random>`. */
export function testSchemaName(): string {
  return `bg_test_${randomBytes(6).toString('hex')}`;
}

/** Runs `use` with a client of the test server, and closes it. */
export async function withPgClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Drops a test's schema and everything in it. */
export async function dropSchema(schema: string): Promise<void> {
  await withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}
