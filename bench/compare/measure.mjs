/**
 * Runs one contender in child processes: a timed run over the whole input, then (optionally) a run
 * that crashes at 90% and a restart, for the resume figures. Returns one table cell's figures.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const CHILD = new URL('./child.mjs', import.meta.url).pathname;
const now = () => performance.timeOrigin + performance.now();

/** Spawns child.mjs; resolves with its parsed report, its exit, and when it was spawned. */
function child(args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const spawnedAt = now();
    const process_ = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    process_.stdout.on('data', (chunk) => (stdout += chunk));
    process_.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => process_.kill('SIGKILL'), timeoutMs);
    process_.on('error', reject);
    process_.on('close', (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').pop();
      let report;
      try {
        report = last ? JSON.parse(last) : undefined;
      } catch {
        report = undefined;
      }
      resolve({ code, signal, report, stderr, spawnedAt, wallMs: now() - spawnedAt });
    });
  });
}

function failure(what, result) {
  const reason = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
  return new Error(`${what}: ${reason}${result.stderr ? `: ${result.stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
}

/** One timed run over the whole input, from a fresh state. */
async function timedRun(base, fresh, timeoutMs) {
  const state = fresh();
  try {
    const run = await child([...base, state, 'run'], timeoutMs);
    if (run.code !== 0 || !run.report) throw failure('run', run);
    return { elapsedMs: run.report.elapsedMs, wallMs: run.wallMs, maxRssBytes: run.report.maxRssBytes };
  } finally {
    await child([...base, state, 'cleanup'], 60_000);
    rmSync(state, { recursive: true, force: true });
  }
}

/**
 * @param {{ file: string, handler: string, input: string, count: number, repeats: number, crash: boolean, crashMaxSeconds: number, timeoutMs: number }} options
 * `repeats` timed runs: the cell has the median one's figures (by time) and every run's time in
 * `runsMs`, since one run's time can move by half on a shared machine.
 */
export async function measure({ file, handler, input, count, repeats = 1, crash, crashMaxSeconds, timeoutMs }) {
  const base = [file, handler, input, String(count)];
  const fresh = () => mkdtempSync(join(input, '..', `${file}-`));
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await timedRun(base, fresh, timeoutMs));
  runs.sort((a, b) => a.elapsedMs - b.elapsedMs);
  const median = runs[Math.floor((runs.length - 1) / 2)];
  const cell = {
    elapsedMs: median.elapsedMs,
    wallMs: median.wallMs,
    recordsPerSecond: count / (median.elapsedMs / 1000),
    maxRssBytes: Math.max(...runs.map((run) => run.maxRssBytes)),
  };
  if (runs.length > 1) cell.runsMs = runs.map((run) => run.elapsedMs);
  if (!crash) return cell;
  if (cell.wallMs > crashMaxSeconds * 1000) {
    cell.crashNote = `not measured: the run took ${Math.round(cell.wallMs / 1000)} s`;
    return cell;
  }
  const state = fresh();
  try {
    const crashed = await child([...base, state, 'crash'], timeoutMs);
    if (crashed.signal !== 'SIGKILL') throw failure('crash run (expected to SIGKILL itself at 90%)', crashed);
    const atCrash = JSON.parse(readFileSync(join(state, 'crash.json'), 'utf8'));
    const resumed = await child([...base, state, 'resume'], timeoutMs);
    if (resumed.code !== 0 || !resumed.report) throw failure('resume run', resumed);
    cell.doneAtCrash = atCrash.done;
    cell.resumeMs = resumed.report.firstNewAt === undefined ? undefined : resumed.report.firstNewAt - resumed.spawnedAt;
    cell.redone = resumed.report.redone;
    cell.stuck = resumed.report.stuck;
    cell.resumeWallMs = resumed.wallMs;
  } finally {
    await child([...base, state, 'cleanup'], 60_000);
    rmSync(state, { recursive: true, force: true });
  }
  return cell;
}
