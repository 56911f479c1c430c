/**
 * A PostgreSQL ledger whose server takes the connection and never answers (a stuck pooler, a frozen
 * server, a wrong port on a service that waits for its client to speak). pg waits for ever by
 * default: a run hung without a word, a scheduled one for ever. A new connection now has
 * `connect_timeout` (30 s, or the URL's `?connect_timeout=` or PGCONNECT_TIMEOUT, in seconds, as
 * libpq reads them; 0 waits for ever), and the run stops with exit 4 saying so.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { LedgerError } from '../../src/errors.js';
import { resolvePostgresTarget } from '../../src/ledger/postgres/postgres-location.js';
import { loadPg } from '../../src/ledger/postgres/load-pg.js';
import { itemsJob } from '../helpers/jobs.js';

it('a run whose PostgreSQL server never answers stops after connect_timeout with exit 4, saying so', async () => {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket.on('error', () => {})));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const started = Date.now();
    const failure = await runJob(itemsJob('silent-server', 5), {
      ledger: `postgres://batchguard@127.0.0.1:${port}/test?connect_timeout=1`,
    }).catch((error: unknown) => error);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(failure).toBeInstanceOf(LedgerError);
    expect((failure as LedgerError).message).toContain(
      'failed: timeout expired (the server took the connection but did not answer within connect_timeout',
    );
  } finally {
    for (const socket of sockets) socket.destroy();
    server.close();
  }
}, 30_000);

it('connect_timeout: the URL, else PGCONNECT_TIMEOUT, else 30 s; whole seconds, 0 for no limit', () => {
  const { path } = loadPg('ledger');
  const timeout = (url: string, env: NodeJS.ProcessEnv = {}): number => resolvePostgresTarget(url, path, env).connectTimeoutMs;
  expect(timeout('postgres://u@h/db')).toBe(30_000);
  expect(timeout('postgres://u@h/db', { PGCONNECT_TIMEOUT: '5' })).toBe(5_000);
  expect(timeout('postgres://u@h/db?connect_timeout=2', { PGCONNECT_TIMEOUT: '5' })).toBe(2_000);
  expect(timeout('postgres://u@h/db?connect_timeout=0')).toBe(0);
  for (const bad of ['abc', '1.5', '-1']) {
    expect(() => timeout(`postgres://u@h/db?connect_timeout=${bad}`)).toThrow(
      `connect_timeout of the PostgreSQL ledger must be whole seconds (0: no limit); got "${bad}"`,
    );
  }
});
