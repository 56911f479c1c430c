/**
 * The fence around every write a worker makes for its chunks: outcomes, counters, a chunk marked
 * done. The write runs in a transaction that first checks, under a share lock on the chunk rows,
 * that this worker still holds each chunk with the token it leased it with, and that the lease has
 * not expired.
 *
 * Why a share lock: a takeover is an UPDATE of the same row, so it waits until this transaction
 * ends, and the new holder then sees everything this transaction recorded (and skips it). Without
 * the lock a takeover could slip between the check and the commit and both workers would record
 * the same records. Share, not update: writes for different chunks of one worker never wait on
 * each other, and two of its own batches may be in flight together.
 */
import { leaseLost, type HeldChunk } from '../../worker-ledger.js';
import { sessionEnded } from '../session-ended.js';
import { inTransaction, type SqlClient, type SqlPool } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';

/**
 * Runs `write` in a transaction fenced by `held`; throws LedgerError LEDGER_LEASE_LOST, having
 * written nothing, when any chunk of `held` is no longer this worker's.
 */
export async function fencedWrite<T>(
  pool: SqlPool,
  schema: string,
  runId: string,
  owner: string,
  held: readonly HeldChunk[],
  write: (client: SqlClient) => Promise<T>,
): Promise<T> {
  const chunks = held.map((h) => h.chunk);
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ chunk: number }>(
      `SELECT c.chunk FROM ${quoteIdent(schema)}.chunks AS c
         JOIN unnest($3::integer[], $4::bigint[]) AS h (chunk, token) ON c.chunk = h.chunk AND c.token = h.token
        WHERE c.run_id = $1 AND c.owner = $2 AND c.status = 'leased' AND c.lease_expires_at > clock_timestamp()
        ORDER BY c.chunk
        FOR SHARE OF c`,
      [runId, owner, chunks, held.map((h) => h.token)],
    );
    if (rows.length !== held.length) {
      const kept = new Set(rows.map((row) => row.chunk));
      throw leaseLost(
        runId,
        chunks.filter((chunk) => !kept.has(chunk)),
      );
    }
    return write(client);
  }).catch((error: unknown) => {
    // The session ended under the write: most often the server ended it because it sat in its
    // transaction past a lease time (the process was stopped inside a write; see postgres-worker-ledger.ts).
    // The write is lost with it, and so is the lease, or soon will be: its chunks are given up, and
    // taken over once it expired. Were the lease still good, that costs time, not correctness.
    if (sessionEnded(error)) throw leaseLost(runId, chunks, error);
    throw error;
  });
}

/** Marks a chunk done, inside a fenced write. */
export async function markChunkDone(client: SqlClient, schema: string, runId: string, held: HeldChunk): Promise<void> {
  await client.query(
    `UPDATE ${quoteIdent(schema)}.chunks SET status = 'done', done_at = clock_timestamp(), lease_expires_at = NULL
      WHERE run_id = $1 AND chunk = $2 AND token = $3`,
    [runId, held.chunk, held.token],
  );
}
