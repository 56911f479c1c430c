/**
 * A real local HTTP server that records every request (a webhook receiver, a Sentry ingest
 * endpoint): the e2e tests point the CLI at it and read back what arrived.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Receiver {
  readonly port: number;
  /** Every request so far, in arrival order (gzip bodies unpacked). */
  readonly received: Received[];
}

const servers: Server[] = [];

/** Starts a receiver on 127.0.0.1 that answers every request with `status`. */
export async function receiver(status = 200): Promise<Receiver> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: raw.toString('utf8') });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, received };
}

/** Closes every receiver started so far (for `afterEach`). */
export async function closeReceivers(): Promise<void> {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise((r) => {
          s.closeAllConnections();
          s.close(r);
        }),
    ),
  );
}
