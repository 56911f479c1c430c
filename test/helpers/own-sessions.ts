/**
 * The server's sessions of this very process: pg_stat_activity's rows whose client port is one of
 * this process's sockets (other test files, in other processes, have sessions open at the same
 * time). Linux only: the sockets are read from /proc.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type pg from 'pg';

/** One session of this process: its server pid and its `application_name`. */
export interface OwnSession {
  readonly pid: number;
  readonly applicationName: string;
}

/** This process's sessions, as the server sees them through `pool` (whose own sessions are left out). */
export async function ownSessions(pool: pg.Pool): Promise<OwnSession[]> {
  const inodes = new Set(
    readdirSync('/proc/self/fd').flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]].filter((inode) => inode !== undefined);
      } catch {
        return [];
      }
    }),
  );
  const ports = ['/proc/self/net/tcp', '/proc/self/net/tcp6'].flatMap((table) =>
    readFileSync(table, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[9] !== undefined && inodes.has(fields[9]))
      .map((fields) => parseInt(fields[1]?.split(':')[1] ?? '', 16)),
  );
  const { rows } = await pool.query<{ pid: number; application_name: string }>(
    `SELECT pid, application_name FROM pg_stat_activity WHERE client_port = ANY($1) AND application_name LIKE 'batchguard%'`,
    [ports],
  );
  return rows.map((row) => ({ pid: row.pid, applicationName: row.application_name }));
}
