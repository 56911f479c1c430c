/**
 * A worker takes the next chunk: an open one, or one whose holder's lease expired (a dead or
 * stopped worker).
 *
 * Locking: `FOR UPDATE SKIP LOCKED` lets workers that ask at the same moment take different chunks
 * instead of queueing on the first one; the same statement marks the chunk leased and bumps its
 * token, because the row lock alone ends with the transaction, after which the next worker would
 * take the same chunk. Expiry is judged by the database's clock, the one clock all workers share.
 * A run that is not running any more (aborted, completed) has no chunk to lease.
 *
 * The lease's commit does not wait for the disk (`synchronous_commit` off for this statement's
 * transaction alone). Were the server to crash before it reached the disk, the lease would be
 * lost with it: the chunk's row would be as before (open, or another holder's older token), and
 * every fenced write of this worker, which checks its owner id and token on the row, would be
 * refused. A fenced write that did commit made the lease durable first: its commit waits for the
 * log up to its own record, which comes after the lease's.
 */
import type { Chunk, ChunkSegment, LeasedChunk } from '../../worker-ledger.js';
import { type SqlClient } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';

interface ChunkRow {
  chunk: number;
  first_seq: string;
  count: number;
  line: string | null;
  byte_offset: string | null;
  token: string;
  leases: number;
  selected_seqs: string[] | null;
  selected_keys: string[] | null;
  selected_groups: (string | null)[] | null;
  was: string;
  /** jsonb, parsed by pg. */
  segments: ChunkSegment[] | null;
}

export async function leaseChunk(
  client: SqlClient,
  schema: string,
  runId: string,
  owner: string,
  leaseMs: number,
): Promise<LeasedChunk | undefined> {
  const s = quoteIdent(schema);
  const { rows } = await client.query<ChunkRow>(
    `UPDATE ${s}.chunks AS c
        SET status = 'leased', owner = $2, token = c.token + 1, leases = c.leases + 1,
            lease_expires_at = clock_timestamp() + $3 * interval '1 millisecond'
       FROM (SELECT run_id, chunk, status AS was FROM ${s}.chunks
              WHERE run_id = $1 AND (status = 'open' OR (status = 'leased' AND lease_expires_at <= clock_timestamp()))
                AND EXISTS (SELECT 1 FROM ${s}.worker_runs WHERE run_id = $1 AND status = 'running')
              ORDER BY chunk LIMIT 1
              FOR UPDATE SKIP LOCKED) AS next,
            (SELECT set_config('synchronous_commit', 'off', true)) AS no_flush
      WHERE c.run_id = next.run_id AND c.chunk = next.chunk
      RETURNING c.chunk, c.first_seq, c.count, c.line, c.byte_offset, c.token, c.leases, c.selected_seqs, c.selected_keys, c.selected_groups, c.segments, next.was`,
    [runId, owner, leaseMs],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  const takenOver = row.leases > 1;
  // A chunk open again after a lease was given back by its worker (an expired one is still `leased`).
  return { chunk: chunkOf(row), token: Number(row.token), takenOver, givenBack: takenOver && row.was === 'open' };
}

function chunkOf(row: ChunkRow): Chunk {
  const from = {
    seq: Number(row.first_seq),
    ...(row.line === null ? {} : { line: Number(row.line) }),
    ...(row.byte_offset === null ? {} : { offset: Number(row.byte_offset) }),
  };
  const { selected_seqs: seqs, selected_keys: keys, selected_groups: groups } = row;
  if (seqs === null) return { index: row.chunk, from, count: row.count };
  const segments = row.segments === null ? {} : { segments: row.segments };
  // A chunk of whole dependency components lists its records' sequence numbers only.
  if (keys === null) return { index: row.chunk, from, count: row.count, members: seqs.map(Number), ...segments };
  const selected = seqs.map((seq, i) => {
    const fingerprint = groups?.[i];
    return { seq: Number(seq), key: keys[i] as string, ...(fingerprint == null ? {} : { fingerprint }) };
  });
  return { index: row.chunk, from, count: row.count, selected, ...segments };
}
