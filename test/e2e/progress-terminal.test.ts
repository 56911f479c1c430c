/**
 * The progress output as people and log collectors see it: the real CLI under a pseudo-terminal
 * (tmux, whose screen is read back with capture-pane), and with stderr on a pipe.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, runCli, waitFor, writeJsonl } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const TMUX = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((p) => existsSync(p));
/** A tmux server of this test file's own, so that nothing else's sessions are touched. */
const SOCKET = `batchguard-progress-${process.pid}`;

function tmux(...args: string[]): string {
  if (!TMUX) throw new Error('tmux is not installed (Debian package tmux): cannot run the CLI under a pseudo-terminal');
  return execFileSync(TMUX, ['-L', SOCKET, ...args], { encoding: 'utf8' });
}

afterEach(() => {
  if (!TMUX) return;
  try {
    tmux('kill-server');
  } catch {
    // No server was left running.
  }
});

/** A job of `count` records, each taking `ms`; ids divisible by 10 fail. */
function slowJob(dir: string, count: number, ms: number): string {
  writeJsonl(dir, 'slow.jsonl', count);
  const file = join(dir, 'slow.mjs');
  writeFileSync(
    file,
    `
import { defineJob, jsonl, FatalError } from 'batchguard';
export default defineJob({
  name: 'slow', source: jsonl('slow.jsonl'), key: (r) => String(r.id), concurrency: 4, maxFailureRate: 1,
  handler: async (r) => {
    await new Promise((resolve) => setTimeout(resolve, ${ms}));
    if (r.id % 10 === 0) throw new FatalError('bad record ' + r.id);
    return r;
  },
});
`,
  );
  return file;
}

/** The visible screen of the test's tmux pane, one string per row, trailing spaces removed. */
function screen(): string[] {
  return tmux('capture-pane', '-p', '-t', 'run').split('\n');
}

/** Every row the pane showed, the ones scrolled off the top included. */
function history(): string[] {
  return tmux('capture-pane', '-p', '-S', '-', '-t', 'run').split('\n');
}

/** The CLI as a person starts it: whatever format or level the test's own environment asks for is not passed on. */
const CLI = `env -u BATCHGUARD_LOG_FORMAT -u BATCHGUARD_LOG_LEVEL node ${BIN}`;

describe('progress on a terminal', () => {
  it('draws one live line that fits the terminal, with done/total, %, rate, ETA and counts, and clears it at the end', async () => {
    const dir = tempDir();
    slowJob(dir, 600, 20);
    const columns = 100;
    // `; sleep` keeps the pane open after the run so that its last screen can be read.
    tmux('new-session', '-d', '-s', 'run', '-x', String(columns), '-y', '30', '-c', dir, `${CLI} run slow.mjs; echo EXIT=$?; sleep 60`);
    let during: string[] = [];
    await waitFor(() => {
      during = screen();
      return during.some((row) => /\d+\.\d%/.test(row) && row.includes('ETA'));
    }, 20_000);
    const progressRows = during.filter((row) => /\d+\.\d%/.test(row));
    expect(progressRows).toHaveLength(1);
    const line = progressRows[0] as string;
    expect(Array.from(line).length).toBeLessThan(columns);
    expect(line).toMatch(/^[\d,]+\/~?[\d,]+ {2}\d+\.\d% {2}[\d,]+ rec\/s {2}ETA \d+[smh]/);
    expect(line).toMatch(/✓ [\d,]+ {2}✗ [\d,]+/);
    expect(line).toMatch(/\d+\/4 in flight/);

    let after: string[] = [];
    await waitFor(() => {
      after = screen();
      return after.some((row) => row.startsWith('EXIT='));
    }, 30_000);
    expect(after).toContain('EXIT=0');
    // Stopped and cleared: no progress line is left behind, above or among the summary lines.
    expect(after.filter((row) => /\d+\.\d%/.test(row) && row.includes('rec/s'))).toEqual([]);
    expect(after.join('\n')).toContain('succeeded');

    // The log on a terminal is the human one: a line per failure (the first 20), then a count.
    const rows = history();
    expect(rows.some((row) => /^batchguard: run \S+ started with a new ledger /.test(row))).toBe(true);
    expect(rows).toContain('failed  10 [fatal] after 1 attempt(s): FatalError: bad record 10');
    expect(rows.filter((row) => row.startsWith('failed  '))).toHaveLength(20);
    expect(rows).toContain("… and 40 more failures in this run, not shown one by one (see the summary's top errors)");
    expect(rows.filter((row) => row.trimStart().startsWith('{'))).toEqual([]);
  });

  it('on a narrow terminal leaves figures out instead of wrapping', async () => {
    const dir = tempDir();
    slowJob(dir, 400, 20);
    const columns = 40;
    tmux('new-session', '-d', '-s', 'run', '-x', String(columns), '-y', '30', '-c', dir, `${CLI} run slow.mjs; echo EXIT=$?; sleep 60`);
    let rows: string[] = [];
    await waitFor(() => {
      rows = screen();
      return rows.some((row) => /\d+\.\d%/.test(row));
    }, 20_000);
    // A wrapped line would leave its start on one row and the rest on the next.
    const line = rows.find((row) => /\d+\.\d%/.test(row)) as string;
    expect(Array.from(line).length).toBeLessThan(columns);
    expect(line).toMatch(/^[\d,]+\/~?[\d,]+ {2}\d+\.\d%/);
    expect(rows.filter((row) => row.includes('in flight') || row.includes('rec/s'))).toEqual([]);
  });
});

describe('progress without a terminal', () => {
  it('writes a plain progress line every --progress-every, with no control characters', async () => {
    const dir = tempDir();
    slowJob(dir, 300, 20);
    const result = await runCli(['run', 'slow.mjs', '--progress-every', '500ms'], { cwd: dir });
    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n').filter((l) => l.startsWith('progress: '));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const withTotal = lines.find((l) => l.includes('%')) as string;
    expect(withTotal).toMatch(
      /^progress: done \d+ of (about )?\d+ \(\d+\.\d%\), \d+ rec\/s, (eta \d+[smh]\w*, )?succeeded \d+, failed \d+/,
    );
    // eslint-disable-next-line no-control-regex
    expect(result.stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  });

  it('in a JSON log (the default without a terminal), a progress entry with the figures every --progress-every', async () => {
    const dir = tempDir();
    slowJob(dir, 300, 20);
    const result = await runCli(['run', 'slow.mjs', '--progress-every', '500ms'], { cwd: dir, env: { BATCHGUARD_LOG_FORMAT: '' } });
    expect(result.code).toBe(0);
    const entries = result.stderr
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const progress = entries.filter((entry) => entry.event === 'progress');
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const withTotal = progress.find((entry) => entry.percent !== undefined) as Record<string, unknown>;
    expect(withTotal).toMatchObject({ level: 'info', msg: 'progress', concurrencyLimit: 4, breaker: 'closed' });
    for (const figure of ['done', 'total', 'percent', 'recordsPerSecond', 'succeeded', 'failed', 'retrying', 'inFlight'])
      expect(typeof withTotal[figure], figure).toBe('number');
    expect(withTotal.done as number).toBeLessThanOrEqual(withTotal.total as number);
    expect(result.stderr).not.toContain('progress: ');
  });

  it('--no-progress writes none', async () => {
    const dir = tempDir();
    slowJob(dir, 100, 10);
    const result = await runCli(['run', 'slow.mjs', '--progress-every', '100ms', '--no-progress'], { cwd: dir });
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('progress: ');
  });
});
