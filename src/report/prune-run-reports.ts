/**
 * Keeps `<ledger>.runs/` from growing without end: a job run every few minutes by a scheduler
 * would otherwise leave a folder per run forever. The ledger keeps every run's summary; the
 * folders are only the files readable without batchguard, so the oldest are deleted.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunReportPaths } from './summary.js';

/** Run report folders kept when the job does not say otherwise. */
export const DEFAULT_KEEP_RUNS = 20;
/** The most report folders a job or a run may ask to keep. */
export const MAX_KEEP_RUNS = 100_000;

/**
 * Deletes all but the `keep` most recent run folders beside the current run's (which is always
 * kept). Age is the folder's modification time: run ids are random, not ordered. Returns the
 * folders deleted. Never throws: a folder that cannot be deleted is tried again next run.
 */
export function pruneRunReports(current: RunReportPaths, keep: number): string[] {
  const currentRunDir = dirname(current.summary);
  const parent = dirname(currentRunDir);
  let folders: { path: string; mtimeMs: number }[];
  try {
    folders = readdirSync(parent, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => {
        const path = join(parent, entry.name);
        return { path, mtimeMs: path === currentRunDir ? Number.POSITIVE_INFINITY : statSync(path).mtimeMs };
      });
  } catch {
    return [];
  }
  folders.sort((a, b) => b.mtimeMs - a.mtimeMs || a.path.localeCompare(b.path));
  const deleted: string[] = [];
  for (const folder of folders.slice(Math.max(1, keep))) {
    try {
      rmSync(folder.path, { recursive: true, force: true });
      deleted.push(folder.path);
    } catch {
      // Left for the next run.
    }
  }
  return deleted;
}
