/**
 * The faults the torture scenarios inflict from outside: a small tmpfs that fills up, bytes flipped
 * in a ledger's pages, and runs in their own PID namespace. Linux only; the tmpfs and the namespaces
 * need root (the CI and this machine run as root).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { readLedger } from '../helpers/ledger.js';

/** A tmpfs of `size` (`2m`) mounted on `dir`; unmount it in a `finally`. */
export function mountTmpfs(dir: string, size: string): { resize: (size: string) => void; unmount: () => void } {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    // Growing the filesystem frees space without touching a byte of what is on it.
    resize: (newSize) => void execFileSync('mount', ['-o', `remount,size=${newSize}`, dir]),
    unmount: () => {
      // A process that still holds a file open (a run that hangs) makes a plain umount fail: detach.
      if (spawnSync('umount', [dir]).status !== 0) spawnSync('umount', ['-l', dir]);
    },
  };
}

/** Whether this process may mount filesystems and make namespaces (root). */
export const canMount = (): boolean => process.getuid?.() === 0 && existsSync('/usr/bin/unshare');

const PAGE_HEADER_BYTES = 8;

/**
 * Damages the first leaf page of each of `btrees` (tables or indexes) in a SQLite file: flips every
 * bit of its b-tree page header (page type, first freeblock, cell count, cell content start). The
 * pages are found through the dbstat table, so the damage lands where the ledger keeps data; the
 * first leaves hold the oldest rows, which a resumed run does not read. Raw SQLite on purpose: the
 * damage is to the backend's own file.
 */
export function flipLeafPageHeaders(path: string, btrees: readonly string[]): number[] {
  const { pageSize, pages } = readLedger(path, (db) => ({
    pageSize: Number(db.pragma('page_size', { simple: true })),
    pages: btrees
      .map((name) => db.prepare("SELECT MIN(pageno) FROM dbstat WHERE name = ? AND pagetype = 'leaf'").pluck().get(name) as number | null)
      .filter((page): page is number => page !== null && page > 1),
  }));
  const fd = openSync(path, 'r+');
  try {
    for (const page of pages) {
      const offset = (page - 1) * pageSize;
      const bytes = Buffer.alloc(PAGE_HEADER_BYTES);
      readSync(fd, bytes, 0, bytes.length, offset);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (bytes[i] as number) ^ 0xff;
      writeSync(fd, bytes, 0, bytes.length, offset);
    }
  } finally {
    closeSync(fd);
  }
  return pages;
}

/** A SHA-256 of a file's bytes ('absent' when there is no file), to prove a refused run wrote nothing. */
export function fileHash(path: string): string {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : 'absent';
}

/**
 * A hash of a SQLite ledger's logical content (every row of every table), independent of its file
 * layout. Raw SQLite on purpose: it proves a refused run wrote nothing anywhere in the file, which
 * no Ledger method could show.
 */
export function ledgerContentHash(path: string): string {
  return readLedger(path, (db) => {
    const hash = createHash('sha256');
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .pluck()
      .all() as string[];
    for (const table of tables) {
      hash.update(`${table}\n`);
      for (const row of db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).raw().iterate()) hash.update(`${JSON.stringify(row)}\n`);
    }
    return hash.digest('hex');
  });
}

/** The command prefix that runs a program as PID 1 of a new PID namespace (and, with `hostname`, of a new UTS namespace with that host name). */
export function pidNamespace(hostname?: string): string[] {
  const unshare = ['unshare', '--pid', '--fork', '--mount-proc', '--kill-child'];
  return hostname ? [...unshare, '--uts', 'sh', '-c', `hostname ${hostname} && exec "$0" "$@"`] : unshare;
}
