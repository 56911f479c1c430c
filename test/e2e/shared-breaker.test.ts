/**
 * The breaker of a shared run (`run --worker`) is one decision for all its workers, with three
 * worker processes over the real PostgreSQL and a local upstream that goes down for all of them at
 * once. One worker runs 8 records at a time and sees the outage first; the other two run one at a
 * time, and on their own evidence would need 12 failed calls of 1.5 s each (18 s) to trip: they
 * open within about a heartbeat only because the shared breaker did. While it is open, only the
 * worker holding the probe right calls the upstream, one probe at a time.
 *
 * Each worker's job writes its breaker events, with the time, to a file of its own (the job's
 * `onEvent`); the upstream keeps every call with when the handler started it and when it was
 * answered. Both are on this machine's clock.
 */
import { readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { spawnCli, waitFor, writeJsonl, type CliResult } from '../helpers/cli.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';
import { expectOneOutcomeEach } from '../helpers/stored.js';
import { mostAtOnce, switchableUpstream, type SwitchableUpstream } from '../helpers/switchable-upstream.js';
import { tempDir } from '../helpers/temp.js';

const RECORDS = 3000;
/** How long a call to the upstream hangs before it is refused while the upstream is down. */
const DOWN_DELAY_MS = 1500;
/** `--lease 3s`: a heartbeat every second, which reads the shared breaker. */
const LEASE = '3s';
const HEARTBEAT_MS = 1000;
/**
 * The bound on how long after the first trip the last worker opens (and after the first close the
 * last one closes): a heartbeat, plus room for a machine loaded by other sessions. Still far below
 * the 18 s the slow workers would need on their own evidence.
 */
const FOLLOW_WITHIN_MS = HEARTBEAT_MS + 5000;
/** The bound on every wait for progress: generous for a loaded machine, never for ever. */
const PROGRESS_WITHIN_MS = 90_000;

interface LoggedEvent {
  readonly t: number;
  readonly type: string;
  readonly reason?: string;
}

describePg('the shared breaker of workers on one run', () => {
  // Drops the schemas of this file's tests once they end.
  pgPool();
  let upstream: SwitchableUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  /** The job file: each call goes to the upstream; breaker events go to `events-<pid>.jsonl`. */
  function setUp(dir: string, url: string, maxOpenMs: number): void {
    writeJsonl(dir, 'records.jsonl', RECORDS);
    writeFileSync(
      join(dir, 'job.mjs'),
      `
import { appendFileSync } from 'node:fs';
import { defineJob, jsonl } from 'batchguard';
const LOG = ${JSON.stringify(dir)} + '/events-' + process.pid + '.jsonl';
export default defineJob({
  name: 'shared-breaker',
  source: jsonl(${JSON.stringify(join(dir, 'records.jsonl'))}),
  key: (r) => String(r.id),
  timeoutMs: 10000,
  // Enough attempts that no record runs out of them while the slow workers wait for a heartbeat.
  retry: { maxAttempts: 6, backoff: { kind: 'constant', delayMs: 50 } },
  breaker: { consecutiveFailures: 12, windowRecords: 20, minRecords: 10, probeDelayMs: 200, maxProbeDelayMs: 1000, maxOpenMs: ${maxOpenMs} },
  onEvent: (event) => {
    if (event.type.startsWith('breaker:') || event.type === 'run:aborted')
      appendFileSync(LOG, JSON.stringify({ t: Date.now(), type: event.type, reason: event.reason }) + '\\n');
  },
  handler: async (r) => {
    const response = await fetch(${JSON.stringify(url)} + '/call?id=' + r.id + '&w=' + process.pid + '&t=' + Date.now());
    await response.text();
    if (!response.ok) throw Object.assign(new Error('upstream answered ' + response.status), { status: response.status });
  },
});
`,
    );
  }

  /** Three workers: one running 8 records at a time, two running one at a time. */
  function startWorkers(dir: string, schema: string): ReturnType<typeof spawnCli>[] {
    return [8, 1, 1].map((concurrency) =>
      spawnCli(
        [
          'run',
          'job.mjs',
          '--ledger',
          PG_URL,
          '--pg-schema',
          schema,
          '--worker',
          '--lease',
          LEASE,
          '--records-per-chunk',
          '300',
          '--concurrency',
          String(concurrency),
          '--json',
        ],
        { cwd: dir },
      ),
    );
  }

  function eventsOf(dir: string, pid: number | undefined): LoggedEvent[] {
    const path = join(dir, `events-${pid}.jsonl`);
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LoggedEvent);
  }

  /** When each worker's breaker first opened from `since` on (undefined: not yet). */
  const firstOpens = (dir: string, workers: { pid?: number }[], since: number): (LoggedEvent | undefined)[] =>
    workers.map((w) => eventsOf(dir, w.pid).find((e) => e.type === 'breaker:opened' && e.t >= since));

  /**
   * Takes the upstream down once every worker has been served, and waits until every worker's breaker
   * opened. Returns when the outage began, the first trip (a worker's own evidence), and the last open.
   */
  async function outage(
    dir: string,
    workers: ReturnType<typeof spawnCli>[],
    up: SwitchableUpstream,
  ): Promise<{ downAt: number; firstTrip: number; lastOpen: number }> {
    await waitFor(() => workers.every((w) => up.servedBy(String(w.pid)) >= 20), PROGRESS_WITHIN_MS);
    const downAt = Date.now();
    up.setDown(true);
    // Until every worker opened, or one ended (then the assertion below says which did not open).
    await waitFor(
      () =>
        firstOpens(dir, workers, downAt).every((e) => e !== undefined) || workers.some((w) => w.exitCode !== null || w.signalCode !== null),
      PROGRESS_WITHIN_MS,
    );
    const opens = firstOpens(dir, workers, downAt) as LoggedEvent[];
    expect(opens.map((e, i) => (e === undefined ? `worker ${i} never opened` : 'opened'))).toEqual(['opened', 'opened', 'opened']);
    const own = opens.filter((e) => e.reason !== 'shared');
    expect(own.length).toBeGreaterThanOrEqual(1);
    const firstTrip = Math.min(...own.map((e) => e.t));
    const lastOpen = Math.max(...opens.map((e) => e.t));
    console.log(
      `shared breaker e2e: first trip ${firstTrip - downAt} ms after the outage began; the last worker opened ${lastOpen - firstTrip} ms after it (reasons: ${opens.map((e) => e.reason).join(', ')})`,
    );
    return { downAt, firstTrip, lastOpen };
  }

  /** The calls made while every worker was open: the probes. Waits until at least `count` were made. */
  async function probes(up: SwitchableUpstream, allOpen: number, count: number): Promise<void> {
    await waitFor(() => up.calls.filter((c) => c.startedAt > allOpen && c.endedAt !== undefined).length >= count, PROGRESS_WITHIN_MS);
  }

  function expectOneProbeAtATime(up: SwitchableUpstream, allOpen: number, until: number): void {
    const during = up.calls.filter((c) => c.startedAt > allOpen && c.startedAt < until);
    expect(during.every((c) => c.down)).toBe(true);
    console.log(
      `shared breaker e2e: ${during.length} probes while all were open, by ${new Set(during.map((c) => c.worker)).size} worker(s), at most ${mostAtOnce(during)} at once`,
    );
    expect(mostAtOnce(during)).toBe(1);
  }

  it('opens on every worker within about a heartbeat of the first trip, probes one at a time, closes on all; every record succeeds once', async () => {
    const dir = tempDir();
    const schema = freshSchema('bg_e2e_breaker');
    upstream = await switchableUpstream(DOWN_DELAY_MS);
    const up = upstream;
    setUp(dir, up.url, 120_000);
    const workers = startWorkers(dir, schema);
    try {
      const { firstTrip, lastOpen } = await outage(dir, workers, up);
      expect(lastOpen - firstTrip).toBeLessThanOrEqual(FOLLOW_WITHIN_MS);
      await probes(up, lastOpen, 3);
      const upAt = Date.now();
      up.setDown(false);
      expectOneProbeAtATime(up, lastOpen, upAt);

      const results: CliResult[] = await Promise.all(workers.map((w) => w.result));
      for (const result of results) {
        // A worker logs as a run does: the breaker opening and closing, and here no error.
        expect(result.stderr).toMatch(/^batchguard: breaker opened: /m);
        expect(result.stderr).toMatch(/^batchguard: breaker closed after /m);
        expect(result.stderr).not.toMatch(/^batchguard: error/m);
        expect(result.code).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({ status: 'completed', shared: { total: RECORDS, succeeded: RECORDS, failed: 0 } });
      }
      const closes = workers.map((w) => eventsOf(dir, w.pid).find((e) => e.type === 'breaker:closed' && e.t >= upAt));
      expect(closes.every((e) => e !== undefined)).toBe(true);
      const closedAt = (closes as LoggedEvent[]).map((e) => e.t);
      console.log(`shared breaker e2e: the last worker closed ${Math.max(...closedAt) - Math.min(...closedAt)} ms after the first`);
      expect(Math.max(...closedAt) - Math.min(...closedAt)).toBeLessThanOrEqual(FOLLOW_WITHIN_MS);

      // Every record once: one outcome each in the ledger, and one successful call each upstream.
      const { ledger } = openLedger(PG_URL, { job: 'shared-breaker', pgSchema: schema });
      try {
        expect(await ledger.counts()).toMatchObject({ total: RECORDS, succeeded: RECORDS, failed: 0, pending: 0 });
        await expectOneOutcomeEach(ledger, RECORDS);
      } finally {
        await ledger.close();
      }
      expect(up.served.size).toBe(RECORDS);
      expect([...up.served.values()].every((n) => n === 1)).toBe(true);
    } finally {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    }
  }, 300_000);

  it('with an outage that outlasts maxOpenMs, every worker gives up together with exit code 3; nothing failed', async () => {
    const dir = tempDir();
    const schema = freshSchema('bg_e2e_breaker');
    upstream = await switchableUpstream(DOWN_DELAY_MS);
    const up = upstream;
    const maxOpenMs = 8000;
    setUp(dir, up.url, maxOpenMs);
    const workers = startWorkers(dir, schema);
    const exitedAt: number[] = [];
    for (const w of workers) void w.result.then(() => exitedAt.push(Date.now()));
    try {
      const { firstTrip, lastOpen } = await outage(dir, workers, up);
      expect(lastOpen - firstTrip).toBeLessThanOrEqual(FOLLOW_WITHIN_MS);
      const results: CliResult[] = await Promise.all(workers.map((w) => w.result));
      expectOneProbeAtATime(up, lastOpen, Math.min(...exitedAt));
      for (const result of results) {
        expect(result.stderr).toMatch(/^batchguard: (aborting the run for every worker|the run was aborted for every worker): worker /m);
        expect(result.code).toBe(3);
        expect(JSON.parse(result.stdout)).toMatchObject({ status: 'aborted', shared: { status: 'aborted', failed: 0 } });
      }
      const reasons = new Set(results.map((r) => (JSON.parse(r.stdout) as { abortReason: string }).abortReason));
      expect(reasons.size).toBe(1);
      // maxOpenMs counts from the shared breaker's opening: nobody gives up before it, all soon after.
      const spread = Math.max(...exitedAt) - Math.min(...exitedAt);
      console.log(
        `shared breaker e2e: gave up ${Math.min(...exitedAt) - firstTrip} ms after the first trip (maxOpenMs ${maxOpenMs}); the last worker exited ${spread} ms after the first`,
      );
      expect(Math.min(...exitedAt) - firstTrip).toBeGreaterThanOrEqual(maxOpenMs - HEARTBEAT_MS);
      expect(spread).toBeLessThanOrEqual(FOLLOW_WITHIN_MS);
      const { ledger } = openLedger(PG_URL, { job: 'shared-breaker', pgSchema: schema });
      try {
        expect(await ledger.counts()).toMatchObject({ total: RECORDS, failed: 0, skipped: 0 });
      } finally {
        await ledger.close();
      }
    } finally {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
    }
  }, 300_000);
});
