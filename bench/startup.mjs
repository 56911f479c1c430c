#!/usr/bin/env node
/**
 * Start-up cost of the CLI: how long a 10-record job takes end to end (`batchguard run job`, default
 * flags, no ledger yet), next to `node -e ''`. Target: an .mjs job within 0.2 s of `node -e ''`.
 * Three job folders: a project with batchguard installed in node_modules (a symlink to this
 * checkout), and a scratch folder with no package.json (.mjs and .ts), where the CLI needs its
 * resolve hook (and tsx for .ts) to load the job.
 * Every case runs once per round, RUNS rounds, so that all of them see the same load (other work
 * shares this machine); each figure is a median, and so is each case's difference to `node -e ''`
 * within a round, which is the figure to read. It also gives the processes' CPU time (all threads),
 * which moves less than wall time on a busy machine: from `perf stat -e task-clock` where perf runs,
 * else from /usr/bin/time (user + system, in steps of 10 ms). The load average is printed at the
 * start and the end.
 * Usage: npm run bench:startup   (RUNS=21 for a steadier median; COMPARE=/path/to/another/checkout
 * adds that build's rows, measured in the same rounds: a before/after comparison; several paths
 * separated by commas add several builds)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.RUNS ?? 11);
// ROOT=/path/to/another/checkout measures that build instead (a before/after comparison).
const root = process.env.ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const TIME = '/usr/bin/time';
/**
 * How CPU time is read: `perf stat -e task-clock` (all threads, to the microsecond) where perf runs,
 * else /usr/bin/time (user + system, in steps of 10 ms), else not at all.
 */
const cpuMeter = perfWorks() ? 'perf' : existsSync(TIME) ? 'time' : undefined;

function perfWorks() {
  const probe = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', 'true'], { encoding: 'utf8' });
  return probe.status === 0 && /task-clock/.test(probe.stderr ?? '');
}
const base = mkdtempSync(join(tmpdir(), 'batchguard-startup-'));

const lines = Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, name: `record-${i}` }));
const job = (typed) => `import { defineJob, jsonl } from 'batchguard';
export default defineJob({
  name: 'startup',
  source: jsonl('records.jsonl'),
  key: (r${typed ? ': { id: number }' : ''}) => String(r.id),
  handler: async () => {},
});
`;

function folder(name, { installed, checkout = root }) {
  const dir = join(base, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'records.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'job.mjs'), job(false));
  writeFileSync(join(dir, 'job.ts'), job(true));
  if (installed) {
    writeFileSync(join(dir, 'package.json'), '{ "name": "startup-bench", "private": true }\n');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(checkout, join(dir, 'node_modules/batchguard'));
  }
  return dir;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** One run of `node ...args` in `cwd`: wall and CPU time in ms; it must exit 0. */
function once(cwd, args) {
  rmSync(join(cwd, '.batchguard'), { recursive: true, force: true });
  const [command, argv] =
    cpuMeter === 'perf'
      ? ['perf', ['stat', '-x,', '-e', 'task-clock', process.execPath, ...args]]
      : cpuMeter === 'time'
        ? [TIME, ['-f', 'cpu %U %S', process.execPath, ...args]]
        : [process.execPath, args];
  const started = performance.now();
  const result = spawnSync(command, argv, { cwd, encoding: 'utf8' });
  const wall = performance.now() - started;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  if (cpuMeter === 'perf') {
    const clock = /^([\d.]+),msec,task-clock/m.exec(result.stderr);
    return { wall, cpu: clock ? Number(clock[1]) : undefined };
  }
  const used = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
  return { wall, cpu: used ? (Number(used[1]) + Number(used[2])) * 1000 : undefined };
}

/**
 * Runs every case once per round, RUNS rounds, so that all cases see the same load; each figure is
 * a median, and so is each case's difference to `node -e ''` within a round.
 */
function measure(cases) {
  const runs = cases.map(() => []);
  for (let round = 0; round < RUNS; round++) cases.forEach(({ cwd, args }, i) => runs[i].push(once(cwd, args)));
  const bare = runs[0];
  const of = (values) => (values.includes(undefined) ? undefined : median(values));
  return cases.map(({ label }, i) => ({
    label,
    wall: of(runs[i].map((run) => run.wall)),
    cpu: of(runs[i].map((run) => run.cpu)),
    wallOver: of(runs[i].map((run, round) => run.wall - bare[round].wall)),
    cpuOver: of(runs[i].map((run, round) => (run.cpu === undefined ? undefined : run.cpu - bare[round].cpu))),
  }));
}

try {
  const scratch = folder('scratch', { installed: false });
  let compared = 0;
  const cliCases = (label, checkout) => {
    const cli = join(checkout, 'bin/batchguard.js');
    return [
      {
        label: `.mjs job, project folder${label}`,
        cwd: folder(`project-${compared++}`, { installed: true, checkout }),
        args: [cli, 'run', 'job.mjs'],
      },
      { label: `.mjs job, scratch folder${label}`, cwd: scratch, args: [cli, 'run', 'job.mjs'] },
      { label: `.ts job, scratch folder${label}`, cwd: scratch, args: [cli, 'run', 'job.ts'] },
    ];
  };
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
  const loadBefore = load();
  const rows = measure([
    { label: "node -e ''", cwd: scratch, args: ['-e', ''] },
    ...cliCases('', root),
    ...(process.env.COMPARE ?? '')
      .split(',')
      .filter(Boolean)
      .flatMap((checkout) => cliCases(` (${checkout})`, checkout)),
  ]);
  const ms = (value) => (value === undefined ? '' : `${value.toFixed(0)} ms`);
  const over = (value) => (value === undefined ? '' : ` (+${value.toFixed(0)})`);
  console.log(`start-up of a 10-record job, median of ${RUNS} rounds, node ${process.version}, ${cpus().length} CPUs`);
  console.log(`load average (1, 5, 15 min): ${loadBefore} at the start, ${load()} at the end; CPU time from ${cpuMeter ?? 'nothing'}`);
  console.log("| what | wall time (+ over node -e '') | CPU time, all threads (+ over node -e '') |");
  console.log('|---|---:|---:|');
  for (const [i, row] of rows.entries()) {
    console.log(`| ${row.label} | ${ms(row.wall)}${i > 0 ? over(row.wallOver) : ''} | ${ms(row.cpu)}${i > 0 ? over(row.cpuOver) : ''} |`);
  }
  for (const row of rows.filter((row) => row.label.startsWith('.mjs'))) {
    console.log(`${row.label}: ${(row.wallOver / 1000).toFixed(3)} s over node -e '' (target ≤ 0.200 s)`);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
