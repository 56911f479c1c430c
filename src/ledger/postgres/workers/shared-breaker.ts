/**
 * The breaker every worker of a run obeys. A worker whose own breaker opens opens the shared one;
 * the others see it open at their next heartbeat and stop taking records too. While it is open, one
 * worker at a time holds the probe (a short lease, so a probing worker that dies does not keep the
 * breaker open for ever); its successful probe closes the breaker for all.
 *
 * Each operation is one conditional UPDATE: two workers opening at once, or closing at once, agree
 * on one result without a lock held across round trips.
 */
import { type SqlClient } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';
import { storableText } from '../pg-text.js';

/** Opens the shared breaker; true if this call opened it, false if it was open already. */
export async function openSharedBreaker(client: SqlClient, schema: string, runId: string, reason: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE ${quoteIdent(schema)}.worker_runs SET breaker = 'open', breaker_since = clock_timestamp(), breaker_reason = $2, probe_owner = NULL
      WHERE run_id = $1 AND breaker = 'closed' AND status = 'running'`,
    [runId, storableText(reason)],
  );
  return rowCount === 1;
}

/** Takes (or renews) the right to probe for `leaseMs`; false while another worker holds it. */
export async function claimProbe(client: SqlClient, schema: string, runId: string, owner: string, leaseMs: number): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE ${quoteIdent(schema)}.worker_runs SET probe_owner = $2, probe_expires_at = clock_timestamp() + $3 * interval '1 millisecond'
      WHERE run_id = $1 AND breaker = 'open' AND status = 'running'
        AND (probe_owner IS NULL OR probe_owner = $2 OR probe_expires_at <= clock_timestamp())`,
    [runId, owner, leaseMs],
  );
  return rowCount === 1;
}

/** Closes the shared breaker after this worker's probe succeeded; false if it does not hold the probe. */
export async function closeSharedBreaker(client: SqlClient, schema: string, runId: string, owner: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE ${quoteIdent(schema)}.worker_runs SET breaker = 'closed', breaker_since = NULL, breaker_reason = NULL, probe_owner = NULL, probe_expires_at = NULL
      WHERE run_id = $1 AND breaker = 'open' AND probe_owner = $2`,
    [runId, owner],
  );
  return rowCount === 1;
}
