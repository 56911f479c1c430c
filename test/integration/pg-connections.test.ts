/**
 * The connections of the PostgreSQL ledger's handles, against the real server: a worker's job
 * ledger and its coordination share one pool (one set of sessions, one bound). The server's view
 * of this process's sessions is read from pg_stat_activity by their client ports.
 */
import { expect, it } from 'vitest';
import { openWorkerLedger } from '../../src/ledger/open-worker-ledger.js';
import { collect } from '../helpers/sources.js';
import { ownSessions, type OwnSession } from '../helpers/own-sessions.js';
import { describePg, freshSchema, pgPool, PG_URL } from '../helpers/pg-schema.js';

describePg("the PostgreSQL ledger's connections", () => {
  const pool = pgPool();

  it("gives a worker one pool: its job ledger's sessions and its coordination's are the same, at most six", async () => {
    const schema = freshSchema('bg_connections');
    // Sessions this process had before (a test file run earlier in the same process may keep some).
    const before = new Set((await ownSessions(pool)).map((session) => session.pid));
    const opened = async (): Promise<OwnSession[]> => (await ownSessions(pool)).filter((session) => !before.has(session.pid));
    const workers = openWorkerLedger(PG_URL, { job: 'j', pgSchema: schema });
    try {
      const chunks = [0, 1, 2].map((index) => ({ index, from: { seq: index * 5 }, count: 5 }));
      const { runId } = await workers.joinRun({ owner: 'a', newRunId: 'run-1', plan: () => Promise.resolve({ total: 15, chunks }) });
      // Many calls at once, on the job's ledger and on the worker tables: each pool opens what it may.
      await Promise.all([
        ...Array.from({ length: 8 }, () => workers.runState(runId)),
        ...Array.from({ length: 8 }, () => workers.ledger.counts()),
        ...Array.from({ length: 4 }, () => collect(workers.ledger.rows({ statuses: ['failed'] }))),
        workers.leaseChunk(runId, 'a', 60_000),
      ]);
      const sessions = await opened();
      expect(sessions.length).toBeGreaterThan(0);
      expect(new Set(sessions.map((session) => session.applicationName))).toEqual(new Set(['batchguard-worker']));
      expect(sessions.length).toBeLessThanOrEqual(6);
    } finally {
      await workers.close();
    }
    // Closed: the server forgets them as soon as it has seen their sockets close.
    for (const started = Date.now(); (await opened()).length > 0;) {
      if (Date.now() - started > 10_000) throw new Error(`sessions still open after close: ${JSON.stringify(await opened())}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
});
