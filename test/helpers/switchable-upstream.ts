/**
 * A local HTTP service that the test takes down and brings back, for every caller at once: the
 * upstream of a job whose workers share an outage. A call is `GET /call?id=…&w=…&t=…` (the record,
 * the calling worker, when the handler started the call by its clock); up, it answers 200 at once,
 * down, 503 after `downDelayMs` (a service that hangs before it refuses). Every call is kept, with
 * when it started and when it was answered, so that a test can see which calls ran at the same time.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamCall {
  readonly id: number;
  readonly worker: string;
  /** When the handler started the call (its Date.now()). */
  readonly startedAt: number;
  /** When the upstream answered (Date.now()); undefined while the call runs. */
  endedAt: number | undefined;
  /** Whether it met the upstream down. */
  readonly down: boolean;
}

export interface SwitchableUpstream {
  readonly url: string;
  readonly calls: UpstreamCall[];
  /** Successful calls per record id. */
  readonly served: Map<number, number>;
  /** Successful calls per worker. */
  servedBy(worker: string): number;
  setDown(down: boolean): void;
  close(): Promise<void>;
}

export async function switchableUpstream(downDelayMs: number): Promise<SwitchableUpstream> {
  let down = false;
  const calls: UpstreamCall[] = [];
  const served = new Map<number, number>();
  const byWorker = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    const call: UpstreamCall = {
      id: Number(url.searchParams.get('id')),
      worker: url.searchParams.get('w') ?? '',
      startedAt: Number(url.searchParams.get('t')),
      endedAt: undefined,
      down,
    };
    calls.push(call);
    const answer = (status: number): void => {
      call.endedAt = Date.now();
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'unavailable');
    };
    if (call.down) {
      setTimeout(() => answer(503), downDelayMs);
      return;
    }
    served.set(call.id, (served.get(call.id) ?? 0) + 1);
    byWorker.set(call.worker, (byWorker.get(call.worker) ?? 0) + 1);
    answer(200);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    served,
    servedBy: (worker) => byWorker.get(worker) ?? 0,
    setDown: (value) => {
      down = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The most calls of `calls` that ran at the same time (a call runs from its start to its answer). */
export function mostAtOnce(calls: readonly UpstreamCall[]): number {
  const edges = calls.flatMap((call) => [
    { at: call.startedAt, step: 1 },
    { at: call.endedAt ?? Number.POSITIVE_INFINITY, step: -1 },
  ]);
  // An answer and a start at the same millisecond: the answer first (the next probe follows it).
  edges.sort((a, b) => a.at - b.at || a.step - b.step);
  let now = 0;
  let most = 0;
  for (const edge of edges) {
    now += edge.step;
    most = Math.max(most, now);
  }
  return most;
}
