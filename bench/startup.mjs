#!/usr/bin/env node
/**
 * Start-up cost of the CLI: how long a 10-record job takes end to end (`batchguard run job`, default
 * flags, no ledger yet), next to `node -e ''`. Target: an .mjs job within 0.2 s of `node -e ''`.
 * Three job folders: a project with batchguard installed in node_modules (a symlink to this
 * checkout), and a scratch folder with no package.json (.mjs and .ts), where the CLI needs its
 * resolve hook (and tsx for .ts) to load the job.
 * Each figure is the median of RUNS spawned processes; with /usr/bin/time it also gives the
 * processes' CPU time (user + system, all threads), which moves less than wall time when other
 * work shares the machine.
 * Usage: npm run bench:startup   (RUNS=21 for a steadier median)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Number(process.env.RUNS ?? 11);
// ROOT=/path/to/another/checkout measures that build instead (a before/after comparison).
const root = process.env.ROOT ?? fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin/batchguard.js');
const TIME = '/usr/bin/time';
const withTime = existsSync(TIME);
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

function folder(name, { installed }) {
  const dir = join(base, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'records.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(join(dir, 'job.mjs'), job(false));
  writeFileSync(join(dir, 'job.ts'), job(true));
  if (installed) {
    writeFileSync(join(dir, 'package.json'), '{ "name": "startup-bench", "private": true }\n');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules/batchguard'));
  }
  return dir;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** Median wall and CPU time of `node ...args` in `cwd`, in ms; every run must exit 0. */
function time(cwd, args) {
  const wall = [];
  const cpu = [];
  for (let i = 0; i < RUNS; i++) {
    rmSync(join(cwd, '.batchguard'), { recursive: true, force: true });
    const command = withTime ? TIME : process.execPath;
    const argv = withTime ? ['-f', 'cpu %U %S', process.execPath, ...args] : args;
    const started = performance.now();
    const result = spawnSync(command, argv, { cwd, encoding: 'utf8' });
    wall.push(performance.now() - started);
    if (result.status !== 0) throw new Error(`node ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    const used = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(result.stderr);
    if (used) cpu.push((Number(used[1]) + Number(used[2])) * 1000);
  }
  return { wall: median(wall), cpu: cpu.length > 0 ? median(cpu) : undefined };
}

try {
  const project = folder('project', { installed: true });
  const scratch = folder('scratch', { installed: false });
  const bare = time(scratch, ['-e', '']);
  const rows = [
    ["node -e ''", bare],
    ['.mjs job, project folder', time(project, [bin, 'run', 'job.mjs'])],
    ['.mjs job, scratch folder', time(scratch, [bin, 'run', 'job.mjs'])],
    ['.ts job, scratch folder', time(scratch, [bin, 'run', 'job.ts'])],
  ];
  const ms = (value) => (value === undefined ? '' : `${value.toFixed(0)} ms`);
  const over = (value, reference) => (value === undefined || value === reference ? '' : ` (+${(value - reference).toFixed(0)})`);
  console.log(`start-up of a 10-record job, median of ${RUNS} runs, node ${process.version}`);
  console.log('| what | wall time | CPU time (user + sys) |');
  console.log('|---|---:|---:|');
  for (const [label, figure] of rows) {
    console.log(`| ${label} | ${ms(figure.wall)}${over(figure.wall, bare.wall)} | ${ms(figure.cpu)}${over(figure.cpu, bare.cpu)} |`);
  }
  for (const [label, figure] of rows.slice(1, 3)) {
    console.log(`${label}: ${((figure.wall - bare.wall) / 1000).toFixed(3)} s over node -e '' (target ≤ 0.200 s)`);
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
