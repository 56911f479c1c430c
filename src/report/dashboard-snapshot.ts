/**
 * What the dashboard shows, read from any `Ledger` (nothing SQLite-specific, so a PostgreSQL
 * ledger fits as it is): counts, the active run and recent runs, the latest run's throughput, the
 * failure groups with samples, blocked records, the breaker state of the last finished run, and the
 * commands that resume or re-run.
 */
import type { ErrorGroup, Ledger, LedgerCounts } from '../ledger/ledger.js';
import { liveRuns, shownStatus } from './live-runs.js';

export interface DashboardSnapshot {
  readonly job: string;
  readonly at: string;
  readonly counts: LedgerCounts;
  readonly active: { readonly runId: string; readonly pid: number; readonly host: string; readonly since: string } | null;
  readonly runs: readonly {
    readonly runId: string;
    readonly status: string;
    readonly startedAt: string;
    readonly endedAt: string | null;
    readonly done: number;
    readonly failed: number;
    readonly perSecond: number;
  }[];
  readonly groups: readonly ErrorGroup[];
  readonly blocked: { readonly count: number; readonly sampleKeys: readonly string[] };
  readonly breaker: string;
  readonly commands: readonly string[];
}

const RECENT_RUNS = 5;
const BLOCKED_SAMPLES = 10;

/** `ledgerFlag` is what the commands add to reach this ledger (` --ledger X`), empty for the default one. */
export async function dashboardSnapshot(
  ledger: Ledger,
  job: string,
  jobFile: string,
  command: string,
  ledgerFlag = '',
): Promise<DashboardSnapshot> {
  const counts = await ledger.counts();
  const live = await liveRuns(ledger);
  const holder = live.holder;
  const runs = await Promise.all(
    (await ledger.runs(RECENT_RUNS)).map(async (run) => {
      const timeline = await ledger.timeline(run.runId);
      const done = timeline.reduce((n, p) => n + p.done, 0);
      const failed = timeline.reduce((n, p) => n + p.failed, 0);
      const end = run.endedAt !== undefined ? Date.parse(run.endedAt) : Date.now();
      const seconds = Math.max(0.001, (end - Date.parse(run.startedAt)) / 1000);
      const status = shownStatus(run, live);
      return {
        runId: run.runId,
        status,
        startedAt: run.startedAt,
        endedAt: run.endedAt ?? null,
        done,
        failed,
        perSecond: Math.round(done / seconds),
      };
    }),
  );
  const blockedKeys: string[] = [];
  for await (const row of ledger.rows({ statuses: ['skipped'] })) {
    if (blockedKeys.length >= BLOCKED_SAMPLES) break;
    blockedKeys.push(row.key);
  }
  const finished = (await ledger.runs(RECENT_RUNS)).find((run) => run.endedAt !== undefined);
  const breaker = (finished?.summary as { breaker?: { state?: unknown } } | undefined)?.breaker?.state;
  const commands = [`${command} run ${jobFile}${ledgerFlag}`];
  if (counts.failed > 0) commands.push(`${command} rerun ${jobFile} --failed${ledgerFlag}`, `${command} failures ${jobFile}${ledgerFlag}`);
  return {
    job,
    at: new Date().toISOString(),
    counts,
    active: holder ? { runId: holder.runId, pid: holder.pid, host: holder.host, since: holder.acquiredAt } : null,
    runs,
    groups: await ledger.topErrors(10, 3),
    blocked: { count: counts.skipped, sampleKeys: blockedKeys },
    breaker: typeof breaker === 'string' ? `${breaker} (at the end of run ${finished!.runId})` : 'unknown (no finished run yet)',
    commands,
  };
}
