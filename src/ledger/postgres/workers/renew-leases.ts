/**
 * The heartbeat: a worker extends the leases of the chunks it holds; and a worker that stops gives
 * back the ones it still holds.
 *
 * A lease that already expired is not renewed, even if no other worker took the chunk yet: the
 * holder was stopped or cut off for longer than the lease, and may have missed that someone
 * (now or a moment ago) decided it was dead. It gives the chunk up; another worker takes it over
 * and skips what was recorded. Renewing only when the token still matches is what makes a
 * takeover final.
 */
import type { HeldChunk } from '../../worker-ledger.js';
import { type SqlClient } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';

/** Renews `held`; returns the chunk numbers whose lease was renewed (the others are lost). */
export async function renewLeases(
  client: SqlClient,
  schema: string,
  runId: string,
  owner: string,
  held: readonly HeldChunk[],
  leaseMs: number,
): Promise<Set<number>> {
  if (held.length === 0) return new Set();
  const { rows } = await client.query<{ chunk: number }>(
    `UPDATE ${quoteIdent(schema)}.chunks AS c SET lease_expires_at = clock_timestamp() + $3 * interval '1 millisecond'
       FROM unnest($4::integer[], $5::bigint[]) AS h (chunk, token)
      WHERE c.run_id = $1 AND c.owner = $2 AND c.chunk = h.chunk AND c.token = h.token
        AND c.status = 'leased' AND c.lease_expires_at > clock_timestamp()
      RETURNING c.chunk`,
    [runId, owner, leaseMs, held.map((h) => h.chunk), held.map((h) => h.token)],
  );
  return new Set(rows.map((row) => row.chunk));
}

/**
 * Gives `held` back (a worker that stops): open again, so that another worker takes each over at
 * once (skipping what was recorded) instead of after its lease. Only while the token is still this
 * worker's: a chunk already taken over is left alone, and a write of this worker refused after.
 */
export async function releaseLeases(
  client: SqlClient,
  schema: string,
  runId: string,
  owner: string,
  held: readonly HeldChunk[],
): Promise<void> {
  if (held.length === 0) return;
  await client.query(
    `UPDATE ${quoteIdent(schema)}.chunks AS c SET status = 'open', owner = NULL, lease_expires_at = NULL
       FROM unnest($3::integer[], $4::bigint[]) AS h (chunk, token)
      WHERE c.run_id = $1 AND c.owner = $2 AND c.chunk = h.chunk AND c.token = h.token AND c.status = 'leased'`,
    [runId, owner, held.map((h) => h.chunk), held.map((h) => h.token)],
  );
}
