/** Whether the local Redis and PostgreSQL answer, so a missing service is a table cell, not a crash. */
import { connect } from 'node:net';
import pg from 'pg';

function tcpReachable(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Whether PostgreSQL answers; if it does, the database is vacuumed first. A server with autovacuum
 * off (this machine's) keeps every dead catalog row that earlier schemas left (the test suite and
 * the contenders create and drop hundreds): hundreds of thousands of dead pg_attribute rows were
 * seen here, which doubled the time a new schema takes to create (docs/benchmarks.md, "The
 * PostgreSQL ledger's fixed cost"). Vacuumed, the PostgreSQL cells measure the contenders, not the
 * server's history.
 */
async function postgresReachable() {
  const client = new pg.Client({
    host: process.env.PGHOST ?? '127.0.0.1',
    port: Number(process.env.PGPORT ?? 5432),
    database: process.env.PGDATABASE ?? 'test',
    user: process.env.PGUSER ?? 'postgres',
    connectionTimeoutMillis: 2000,
  });
  try {
    await client.connect();
    await client.query('SELECT 1');
    await client
      .query('VACUUM')
      .catch((error) => process.stderr.write(`PostgreSQL: VACUUM failed (${error.message}); measuring as it is\n`));
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** `{ redis: boolean, postgres: boolean }` */
export async function services() {
  const [redis, postgres] = await Promise.all([
    tcpReachable(process.env.REDIS_HOST ?? '127.0.0.1', Number(process.env.REDIS_PORT ?? 6379)),
    postgresReachable(),
  ]);
  return { redis, postgres };
}
