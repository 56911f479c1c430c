/**
 * A chunk's ledger against the real PostgreSQL: the last commit of a chunk read to its end (it
 * marks the chunk done) is on its way while the worker's next chunk starts, and the next chunk
 * neither writes before it nor reads on past one batch while it is on its way (the redo bound).
 * The closing commit is held back by a lock on the chunk's row taken from outside (raw SQL on
 * purpose: the test's way to make a commit slow); waits are polls, never a fixed sleep.
 */
import { expect, it } from 'vitest';
import { ChunkLedger } from '../../src/distributed/chunk-ledger.js';
import { WorkerSession } from '../../src/distributed/worker-session.js';
import type { CommitBatch } from '../../src/ledger/ledger.js';
import type { ChunkPlan, LeasedChunk } from '../../src/ledger/worker-ledger.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';
import { workerLedgers } from '../helpers/worker-ledgers.js';

const PLAN: ChunkPlan = {
  total: 10,
  chunks: [0, 1].map((index) => ({ index, from: { seq: index * 5, offset: index * 50 }, count: 5 })),
};

function successes(runId: string, first: number, last: number, exhausted: boolean): CommitBatch {
  return { runId, succeeded: [{ first, last }], rows: [], watermark: undefined, seen: last + 1, exhausted };
}

describePg('ChunkLedger', () => {
  const pool = pgPool();
  const open = workerLedgers();

  it("lets the next chunk start while a chunk's closing commit is on its way; the next one's commits wait for it", async () => {
    const schema = freshSchema('bg_chunk_ledger');
    const workers = open(schema);
    const session = await WorkerSession.join({ ledger: workers }, () => Promise.resolve(PLAN));
    const { runId } = session.run;
    const lease = async (): Promise<LeasedChunk> => {
      const next = await session.next();
      if (next.kind !== 'chunk') throw new Error('a chunk expected');
      return next.lease;
    };
    const first = new ChunkLedger({ base: workers.ledger, session, lease: await lease() });
    await first.begin();
    expect(first.commitsAhead).toBe(1);
    const blocker = await pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM "${schema}".chunks WHERE chunk = 0 FOR UPDATE`);
      // Resolves at once: the fence waits for the lock, the worker does not.
      await first.commit(successes(runId, 0, 4, true));
      const closing = first.closing;
      if (closing === undefined) throw new Error('the closing commit expected');
      const second = new ChunkLedger({ base: workers.ledger, session, lease: await lease(), previous: closing });
      await second.begin();
      expect(second.commitsAhead).toBe(0);
      let written = false;
      const commit = second.commit(successes(runId, 5, 9, false)).then(() => (written = true));
      const waiting = async (): Promise<boolean> => {
        const { rows } = await pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND position($1 IN query) > 0`,
          [`"${schema}".chunks`],
        );
        return rows[0]?.n === '1';
      };
      while (!(await waiting())) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(first.done).toBe(false);
      expect(written).toBe(false);
      await blocker.query('COMMIT');
      await commit;
      expect(first.done).toBe(true);
      expect(second.commitsAhead).toBe(1);
      expect(await workers.runState(runId)).toMatchObject({ succeeded: 10, chunksDone: 1, chunksLeased: 1 });
    } finally {
      blocker.release();
      await session.close();
    }
  });
});
