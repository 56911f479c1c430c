/**
 * `batchguard dashboard <job-file> [--ledger …] [--port N] [--host H]`: a local page that follows
 * the ledger live (server-sent events, one snapshot a second). Read-only: the SQLite ledger is
 * opened with a read-only connection (a PostgreSQL ledger is only read), so the dashboard cannot change anything a run relies on.
 * Bound to 127.0.0.1 unless --host says otherwise (the page shows keys and error messages); there it
 * answers only requests addressed to a loopback name (observe/local-host.ts: DNS rebinding).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { ConfigError } from '../errors.js';
import { openLedgerForReading } from '../ledger/open-ledger.js';
import { dashboardSnapshot } from '../report/dashboard-snapshot.js';
import { renderDashboardPage } from '../report/html/dashboard-page.js';
import { cliCommand } from './cli-command.js';
import { isDatabaseLedger, ledgerPath, ledgerSuffix, noLedger, openExistingLedger } from './ledger-path.js';
import { loadJob } from './load-job.js';
import { hostAllowed, misaddressed } from '../observe/local-host.js';

export interface DashboardFlags {
  ledger?: string;
  pgSchema?: string;
  /** @default 0 (any free port; the address is printed) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

const INTERVAL_MS = 1000;

export async function dashboardCommand(jobFile: string, flags: DashboardFlags): Promise<number> {
  const job = await loadJob(jobFile);
  const path = ledgerPath(job, flags.ledger, jobFile);
  if (!isDatabaseLedger(path) && !existsSync(path)) throw noLedger(path, jobFile, flags.ledger);
  // A database ledger is only read here: the dashboard calls no method that writes.
  const ledger = isDatabaseLedger(path) ? await openExistingLedger(job, flags, jobFile) : openLedgerForReading(path, job.name);
  const snapshot = async (): Promise<string> =>
    JSON.stringify(await dashboardSnapshot(ledger, job.name, jobFile, cliCommand(), ledgerSuffix(flags)));
  const clients = new Set<ServerResponse>();
  const host = flags.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    if (!hostAllowed(host, request.headers.host)) {
      return void response.writeHead(403, { 'content-type': 'text/plain' }).end(misaddressed(request.headers.host ?? '', '--host'));
    }
    if (request.method !== 'GET') return void response.writeHead(405).end();
    // The path alone: a query string (a bookmark's, a browser's) does not change the page.
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/') {
      const nonce = randomBytes(16).toString('base64');
      response
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
        .end(renderDashboardPage(job.name, nonce));
    } else if (path === '/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      clients.add(response);
      request.on('close', () => clients.delete(response));
      void snapshot().then(
        (data) => response.write(`data: ${data}\n\n`),
        () => undefined,
      );
    } else if (path === '/snapshot.json') {
      void snapshot().then(
        (data) => response.writeHead(200, { 'content-type': 'application/json' }).end(data),
        (error: Error) => response.writeHead(500).end(error.message),
      );
    } else {
      response.writeHead(404).end();
    }
  });
  const timer = setInterval(() => {
    if (clients.size === 0) return;
    snapshot().then(
      (data) => {
        for (const client of clients) client.write(`data: ${data}\n\n`);
      },
      (error: Error) => process.stderr.write(`batchguard dashboard: cannot read the ledger: ${error.message}\n`),
    );
  }, INTERVAL_MS);
  await new Promise<void>((resolve, reject) => {
    // A port in use or an address this machine does not have is the user's to change: one line, exit 2.
    server.once('error', (error: NodeJS.ErrnoException) => {
      clearInterval(timer);
      reject(
        new ConfigError(`cannot listen on ${host}:${flags.port ?? 0} (${error.code ?? error.message}); choose another --port or --host`, {
          field: '--port',
        }),
      );
    });
    server.listen(flags.port ?? 0, host, resolve);
  });
  const address = server.address() as { address: string; port: number };
  process.stdout.write(`dashboard of ${job.name}: http://${address.address}:${address.port}/ (read-only; Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearInterval(timer);
  for (const client of clients) client.end();
  server.close();
  await ledger.close();
  return 0;
}
