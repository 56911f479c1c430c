/**
 * Where the tests' PostgreSQL is (127.0.0.1:5432, trust auth, database `test`). No vitest here:
 * the long torture suite (test/torture/run.ts, a plain script) connects with it too.
 */
export const PG_CONFIG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' } as const;

/** The connection string of {@link PG_CONFIG}, for spawned runs and workers. */
export const PG_URL = `postgres://${PG_CONFIG.user}@${PG_CONFIG.host}:${PG_CONFIG.port}/${PG_CONFIG.database}`;
