import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/temp.js';
import { pruneRunReports } from './prune-run-reports.js';

/** `count` run folders, run-0 the oldest; returns the folder that holds them. */
function runFolders(count: number): string {
  const runs = join(tempDir(), 'job.runs');
  for (let i = 0; i < count; i++) {
    const dir = join(runs, `run-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'summary.json'), '{}');
    const at = new Date(Date.UTC(2026, 0, 1, 0, i));
    utimesSync(dir, at, at);
  }
  return runs;
}

const reportsOf = (dir: string) => ({ summary: join(dir, 'summary.json'), failures: join(dir, 'failures.jsonl') });

describe('pruning old run report folders', () => {
  it('keeps the newest N (the current run among them) and deletes the rest', () => {
    const runs = runFolders(25);
    const deleted = pruneRunReports(reportsOf(join(runs, 'run-24')), 20);
    expect(deleted.map((path) => path.slice(runs.length + 1)).sort()).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4']);
    expect(readdirSync(runs)).toHaveLength(20);
  });

  it('always keeps the current run, even when its folder looks older than the others', () => {
    const runs = runFolders(5);
    pruneRunReports(reportsOf(join(runs, 'run-0')), 2);
    expect(readdirSync(runs).sort()).toEqual(['run-0', 'run-4']);
  });

  it('keeps at least the current run, and does nothing when there are few runs', () => {
    const runs = runFolders(3);
    expect(pruneRunReports(reportsOf(join(runs, 'run-2')), 20)).toEqual([]);
    pruneRunReports(reportsOf(join(runs, 'run-2')), 0);
    expect(readdirSync(runs)).toEqual(['run-2']);
    expect(existsSync(join(runs, 'run-2', 'summary.json'))).toBe(true);
  });
});
