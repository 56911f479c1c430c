import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../events/engine-event.js';
import { DEFAULT_ALERT_RULES } from './alert-options.js';
import { startAlerting } from './alerting.js';

let server: Server | undefined;
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((done) => server?.close(done) ?? done(undefined));
  server = undefined;
});

/** A webhook receiver that takes the connection and never answers. */
async function silentReceiver(): Promise<string> {
  server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/T000/SECRET`;
}

const opened = {
  type: 'breaker:opened',
  reason: 'consecutive',
  description: '20 attempts in a row failed',
  fingerprint: undefined,
  failures: 20,
  window: 20,
  error: { name: 'Error', message: 'ECONNREFUSED' },
} as unknown as EngineEvent;

describe('alerting', () => {
  it('says which alerts were not delivered when the run ends before their sends do', async () => {
    const url = await silentReceiver();
    const warnings: string[] = [];
    const alerting = await startAlerting({
      job: 'sync',
      alerts: { rules: DEFAULT_ALERT_RULES, webhook: { url, timeoutMs: 5_000, retries: 2 }, sentry: undefined },
      counts: () => ({ succeeded: 10, failed: 20 }),
      warn: (line) => warnings.push(line),
    });
    alerting.onEvent(opened);
    await alerting.close(200);
    expect(warnings).toEqual([
      `alerts: 1 alert (breaker-opened) not delivered: still being sent to http://127.0.0.1:${new URL(url).port}/… 200 ms after the run ended`,
    ]);
  });
});
