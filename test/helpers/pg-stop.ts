/**
 * SIGSTOP a process using the PostgreSQL ledger at a chosen moment: inside one of its
 * transactions (its session idle in the transaction, waiting for the stopped process: it holds
 * its row locks) or outside any. The server's view (pg_stat_activity) says where it stopped.
 */
import type { ChildProcess } from 'node:child_process';
import type pg from 'pg';

/** Whose sessions to look at: the ledger's `application_name`, and the schema their statements name. */
export interface SessionsOf {
  readonly pool: pg.Pool;
  /** 'batchguard' (a run's ledger) or 'batchguard-worker' (a worker's coordination). */
  readonly applicationName: string;
  readonly schema: string;
}

/**
 * Where the (stopped) process's sessions are: one idle in its transaction (the same one,
 * unchanged, twice 50 ms apart: not a statement still on its way to the server), none in a
 * transaction nor busy, or neither of these yet.
 */
export async function momentOf(sessions: SessionsOf): Promise<'inside' | 'outside' | 'unsettled'> {
  const look = async (): Promise<string[]> =>
    (
      await sessions.pool.query<{ session: string }>(
        `SELECT pid || ' ' || state || ' ' || state_change AS session FROM pg_stat_activity
          WHERE application_name = $1 AND position($2 IN query) > 0 AND state IN ('active', 'idle in transaction')`,
        [sessions.applicationName, `"${sessions.schema}".`],
      )
    ).rows.map((row) => row.session);
  const first = await look();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const second = await look();
  if (first.length === 0 && second.length === 0) return 'outside';
  const settled = second.filter((session) => session.includes(' idle in transaction ') && first.includes(session));
  return settled.length > 0 ? 'inside' : 'unsettled';
}

/**
 * SIGSTOPs `child` at a moment `inside` one of its transactions or outside any: stops, looks, and
 * continues to try again a few ms later until the moment is right. Returns the stops undone;
 * throws when no such moment came within `withinMs` or the process ended first.
 */
export async function stopAt(child: ChildProcess, sessions: SessionsOf, inside: boolean, withinMs: number): Promise<number> {
  const started = Date.now();
  for (let restops = 0; ; restops++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the process ended before it could be stopped (${restops} stops undone)`);
    if (Date.now() - started > withinMs)
      throw new Error(`no moment ${inside ? 'inside' : 'outside'} a transaction in ${withinMs} ms (${restops} stops undone)`);
    child.kill('SIGSTOP');
    if ((await momentOf(sessions)) === (inside ? 'inside' : 'outside')) return restops;
    child.kill('SIGCONT');
    await new Promise((resolve) => setTimeout(resolve, 1 + (restops % 7)));
  }
}

/** How many of the sessions are idle in a transaction now. */
export async function idleInTransaction(sessions: SessionsOf): Promise<number> {
  const { rows } = await sessions.pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction' AND position($2 IN query) > 0`,
    [sessions.applicationName, `"${sessions.schema}".`],
  );
  return Number(rows[0]?.n);
}

/** Kills what is still running of `children` (SIGKILL ends a stopped process too): a failed test leaves no stopped process behind. */
export function killLeftovers(children: readonly (ChildProcess | undefined)[]): void {
  for (const child of children) if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
