/**
 * The run as all its workers see it: its status, the shared breaker, the outcome counts of every
 * worker together, and how far the chunks are. Read at every heartbeat. Each worker adds its counts
 * to a row of its own (`worker_counts`) in the same fenced statement as the outcomes they count
 * (chunk-outcomes.ts), so they never drift from them; the run's are their sum.
 */
import type { SharedRunState, SharedRunStatus } from '../../worker-ledger.js';
import { type SqlClient } from '../pg-pool.js';
import { quoteIdent } from '../postgres-location.js';
import { storableText } from '../pg-text.js';

interface StateRow {
  status: SharedRunStatus;
  abort_reason: string | null;
  breaker: 'closed' | 'open';
  breaker_open_ms: number | null;
  breaker_reason: string | null;
  probe_owner: string | null;
  total: string;
  succeeded: string;
  failed: string;
  skipped: string;
  chunks_open: string;
  chunks_leased: string;
  chunks_done: string;
}

export async function readRunState(client: SqlClient, schema: string, runId: string): Promise<SharedRunState | undefined> {
  const s = quoteIdent(schema);
  const { rows } = await client.query<StateRow>(
    `SELECT r.status, r.abort_reason, r.breaker, r.breaker_reason,
            CASE WHEN r.probe_expires_at > clock_timestamp() THEN r.probe_owner END AS probe_owner,
            (extract(epoch FROM clock_timestamp() - r.breaker_since) * 1000)::float8 AS breaker_open_ms,
            r.total, r.succeeded + w.succeeded AS succeeded, r.failed + w.failed AS failed, r.skipped + w.skipped AS skipped,
            count(*) FILTER (WHERE c.status = 'open') AS chunks_open,
            count(*) FILTER (WHERE c.status = 'leased') AS chunks_leased,
            count(*) FILTER (WHERE c.status = 'done') AS chunks_done
       FROM ${s}.worker_runs r
            CROSS JOIN (SELECT COALESCE(sum(succeeded), 0) AS succeeded, COALESCE(sum(failed), 0) AS failed, COALESCE(sum(skipped), 0) AS skipped
                          FROM ${s}.worker_counts WHERE run_id = $1) w
            LEFT JOIN ${s}.chunks c ON c.run_id = r.run_id
      WHERE r.run_id = $1
      GROUP BY r.run_id, w.succeeded, w.failed, w.skipped`,
    [runId],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    status: row.status,
    abortReason: row.abort_reason ?? undefined,
    breaker: row.breaker,
    breakerOpenMs: row.breaker === 'open' ? Math.max(0, row.breaker_open_ms ?? 0) : 0,
    breakerReason: row.breaker_reason ?? undefined,
    probeOwner: row.probe_owner ?? undefined,
    total: Number(row.total),
    succeeded: Number(row.succeeded),
    failed: Number(row.failed),
    skipped: Number(row.skipped),
    chunksOpen: Number(row.chunks_open),
    chunksLeased: Number(row.chunks_leased),
    chunksDone: Number(row.chunks_done),
  };
}

/**
 * Marks the run completed once every chunk is done; true for the one call that did it (any worker
 * may try, and they all do when they find nothing left to lease).
 */
export async function completeRun(client: SqlClient, schema: string, runId: string): Promise<boolean> {
  const s = quoteIdent(schema);
  const { rowCount } = await client.query(
    `UPDATE ${s}.worker_runs SET status = 'completed', ended_at = clock_timestamp()
      WHERE run_id = $1 AND status = 'running' AND NOT EXISTS (SELECT 1 FROM ${s}.chunks WHERE run_id = $1 AND status <> 'done')`,
    [runId],
  );
  return rowCount === 1;
}

/**
 * Aborts the run for every worker (a shared outage outlasted the breaker, a health check failed);
 * true for the call that decided it. The first reason is kept.
 */
export async function abortRun(client: SqlClient, schema: string, runId: string, reason: string): Promise<boolean> {
  const { rowCount } = await client.query(
    `UPDATE ${quoteIdent(schema)}.worker_runs SET status = 'aborted', abort_reason = $2, ended_at = clock_timestamp() WHERE run_id = $1 AND status = 'running'`,
    [runId, storableText(reason)],
  );
  return rowCount === 1;
}
