#!/usr/bin/env node
/**
 * What the coverage floor costs `npm test`: the tests that run batchguard's code inside vitest's
 * workers (unit, integration, conformance, layout, public API; the e2e and torture tests spawn the
 * CLI, whose processes coverage does not see), run alternately with and without `--coverage`,
 * ROUNDS times each. Prints each run's wall time and the CPU time of the vitest process tree, then
 * the medians. CPU time moves less than wall time when other work shares the machine.
 * Usage: npm run bench:coverage   (ROUNDS=3 by default; needs dist/ and the local PostgreSQL)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FOLDERS = ['src', 'test/integration', 'test/conformance', 'test/layout', 'test/package'];

function once(coverage) {
  const args = ['-f', '%e %U %S', 'npx', 'vitest', 'run', ...(coverage ? ['--coverage'] : []), ...FOLDERS];
  const started = Date.now();
  const run = spawnSync('/usr/bin/time', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const wallS = (Date.now() - started) / 1000;
  const last = run.stderr.trim().split('\n').at(-1) ?? '';
  const [, user, system] = last.split(' ').map(Number);
  return { wallS, cpuS: (user ?? NaN) + (system ?? NaN), status: run.status };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const results = { with: [], without: [] };
for (let round = 1; round <= ROUNDS; round++) {
  for (const coverage of [true, false]) {
    const r = once(coverage);
    results[coverage ? 'with' : 'without'].push(r);
    console.log(
      `round ${round} ${coverage ? 'with coverage   ' : 'without coverage'} wall ${r.wallS.toFixed(0)} s  cpu ${r.cpuS.toFixed(0)} s  exit ${r.status}`,
    );
  }
}
for (const key of ['with', 'without']) {
  const rs = results[key];
  console.log(
    `median ${key.padEnd(7)} coverage: wall ${median(rs.map((r) => r.wallS)).toFixed(0)} s, cpu ${median(rs.map((r) => r.cpuS)).toFixed(0)} s`,
  );
}
