/**
 * WorkerSession against the real PostgreSQL: workers sharing a run to its end, the heartbeat that
 * keeps leases alive, and a worker told at once when its lease is gone. Leases are made to expire
 * by moving their expiry into the past in the backend's table (raw SQL on purpose: the test's
 * clock); waits are polls for a condition, never a fixed sleep.
 */
import { expect, it } from 'vitest';
import { LedgerError } from '../../src/errors.js';
import { WorkerSession } from '../../src/distributed/worker-session.js';
import type { ChunkPlan, SharedRunState, WorkerLedger } from '../../src/ledger/worker-ledger.js';
import { describePg, freshSchema, pgPool } from '../helpers/pg-schema.js';
import { workerLedgers } from '../helpers/worker-ledgers.js';

function plan(chunks: number): ChunkPlan {
  return {
    total: chunks * 5,
    chunks: Array.from({ length: chunks }, (_, index) => ({ index, from: { seq: index * 5, offset: index * 50 }, count: 5 })),
  };
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 20));
}

describePg('WorkerSession', () => {
  const pool = pgPool();
  const open = workerLedgers();

  it('shares a run among workers to its end, every chunk done once', async () => {
    const schema = freshSchema('bg_session');
    const sessions = await Promise.all(
      Array.from({ length: 3 }, () => WorkerSession.join({ ledger: open(schema) }, () => Promise.resolve(plan(12)))),
    );
    expect(sessions.filter((s) => s.run.planned)).toHaveLength(1);
    const done: number[] = [];
    const ends = await Promise.all(
      sessions.map(async (session) => {
        for (;;) {
          const next = await session.next();
          if (next.kind === 'ended') return next.state.status;
          if (next.kind === 'wait') continue;
          done.push(next.lease.chunk.index);
          await session.finishChunk(next.lease);
        }
      }),
    );
    await Promise.all(sessions.map((s) => s.close()));
    expect(ends).toEqual(['completed', 'completed', 'completed']);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('renews its leases by heartbeat and passes the shared state on', async () => {
    const schema = freshSchema('bg_session');
    const states: SharedRunState[] = [];
    const ledger = open(schema);
    const session = await WorkerSession.join({ ledger, leaseMs: 3000, renewEveryMs: 50, onState: (s) => states.push(s) }, () =>
      Promise.resolve(plan(2)),
    );
    // Raw SQL on purpose: the stored expiry is what a heartbeat moves, and no interface method shows it.
    const expiry = async (): Promise<number> =>
      Number(
        (await pool.query(`SELECT extract(epoch FROM lease_expires_at) * 1000 AS ms FROM "${schema}".chunks WHERE chunk = 0`)).rows[0].ms,
      );
    const next = await session.next();
    expect(next.kind).toBe('chunk');
    const first = await expiry();
    await until(async () => (await expiry()) > first);
    await ledger.openBreaker(session.run.runId, 'ECONNREFUSED');
    await until(() => states.some((s) => s.breaker === 'open'));
    expect(session.held).toEqual([{ chunk: 0, token: 1 }]);
    await session.close();
  });

  it('drops a chunk whose lease expired, says so, and refuses to write for it', async () => {
    const schema = freshSchema('bg_session');
    const lost: number[] = [];
    const session = await WorkerSession.join(
      { ledger: open(schema), leaseMs: 3000, renewEveryMs: 50, onLost: (chunk) => lost.push(chunk) },
      () => Promise.resolve(plan(2)),
    );
    const next = await session.next();
    if (next.kind !== 'chunk') throw new Error('a chunk expected');
    // Raw SQL on purpose: the test's clock (the lease expires now, without a wait).
    await pool.query(`UPDATE "${schema}".chunks SET lease_expires_at = clock_timestamp() - interval '1 second' WHERE chunk = 0`);
    await until(() => lost.length > 0);
    expect(lost).toEqual([0]);
    expect(session.holds(next.lease)).toBe(false);
    await expect(session.finishChunk(next.lease)).rejects.toBeInstanceOf(LedgerError);
    // Another worker takes it over and finishes it.
    const other = await WorkerSession.join({ ledger: open(schema) }, () => Promise.reject(new Error('the run is planned already')));
    const taken = await other.next();
    expect(taken).toMatchObject({ kind: 'chunk', lease: { takenOver: true, givenBack: false, token: 2, chunk: { index: 0 } } });
    await session.close();
    await other.close();
  });

  it('does not count a chunk lost when a heartbeat runs between the commit that marks it done and its release', async () => {
    const schema = freshSchema('bg_session');
    const real = open(schema);
    // The real ledger, but a fenced write returns a while after it committed: heartbeats run in between.
    let slowAfterCommit = false;
    const ledger = new Proxy(real, {
      get(target, name) {
        if (name === 'fenced') {
          return async (...args: Parameters<WorkerLedger['fenced']>) => {
            const result = await target.fenced(...args);
            if (slowAfterCommit) await new Promise((resolve) => setTimeout(resolve, 300));
            return result;
          };
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const lost: number[] = [];
    let beats = 0;
    const session = await WorkerSession.join(
      { ledger, leaseMs: 3000, renewEveryMs: 20, onLost: (chunk) => lost.push(chunk), onState: () => beats++ },
      () => Promise.resolve(plan(1)),
    );
    const next = await session.next();
    if (next.kind !== 'chunk') throw new Error(`no chunk: ${next.kind}`);
    slowAfterCommit = true;
    const beatsBefore = beats;
    await session.finishChunk(next.lease);
    expect(beats).toBeGreaterThan(beatsBefore + 2);
    expect(lost).toEqual([]);
    expect(session.held).toEqual([]);
    const end = await session.next();
    expect(end).toMatchObject({ kind: 'ended', state: { status: 'completed', chunksDone: 1 } });
    await session.close();
  });

  it('gives back the chunks it still holds when it closes (a stopped worker): another takes them at once, as a takeover', async () => {
    const schema = freshSchema('bg_session');
    // A lease of a minute: only a chunk given back can be taken before the test's timeout.
    const stopping = await WorkerSession.join({ ledger: open(schema), leaseMs: 60_000 }, () => Promise.resolve(plan(2)));
    const held = await stopping.next();
    if (held.kind !== 'chunk') throw new Error(`no chunk: ${held.kind}`);
    await stopping.close();
    const other = await WorkerSession.join({ ledger: open(schema), leaseMs: 60_000 }, () => Promise.resolve(plan(2)));
    const taken = await other.next();
    expect(taken).toMatchObject({ kind: 'chunk', lease: { chunk: { index: held.lease.chunk.index }, takenOver: true, givenBack: true } });
    await other.close();
  });
});
