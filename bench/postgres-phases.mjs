#!/usr/bin/env node
/**
 * Where a PostgreSQL ledger run's time goes, phase by phase: the job of
 * bench/compare/contenders/batchguard-job.mjs (no-op handler) over RECORDS records, on a new schema
 * each run (dropped after), in a fresh process, with every statement pg sends timed in-process
 * (`Client.prototype.query` and `connect` wrapped: when each started and ended). Prints the median
 * and the range of each phase over RUNS runs, and the statements sent before the first crash note
 * and after the last commit. pg is loaded before the run, as the compared contender does.
 * Usage: npm run build && node bench/postgres-phases.mjs   (RECORDS=100000, RUNS=15,
 * DIST=/path/to/another/dist/bundle; BATCHGUARD_BENCH_PG=postgres://… for another server)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeInput } from './compare/input.mjs';

const PG_URL = process.env.BATCHGUARD_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const here = fileURLToPath(new URL('.', import.meta.url));

/** One run, in this process: prints its phases as JSON. */
async function traced(dist, input) {
  // The pg that `dist` loads (another checkout's build has its own).
  const pg = createRequire(join(dist, 'index.js'))('pg');
  const events = [];
  const wrap = (name, label) => {
    const original = pg.Client.prototype[name];
    pg.Client.prototype[name] = function (...args) {
      const text = label ?? (typeof args[0] === 'string' ? args[0] : (args[0]?.text ?? ''));
      const startedAt = performance.now();
      const done = () => events.push({ startedAt, endedAt: performance.now(), text: text.trim() });
      const at = args.findIndex((arg) => typeof arg === 'function');
      if (at !== -1) {
        const callback = args[at];
        args[at] = (...results) => {
          done();
          callback(...results);
        };
        return original.apply(this, args);
      }
      const result = original.apply(this, args);
      result?.then?.(done, done);
      return result;
    };
  };
  wrap('query');
  wrap('connect', 'CONNECT');
  const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
  const { benchJob } = await import('./compare/contenders/batchguard-job.mjs');
  const job = benchJob({ data: input, handler: async () => {}, concurrency: 8 }, lib);
  const pgSchema = `batchguard_phases_${process.pid}`;
  const startedAt = performance.now();
  await lib.runJob(job, { ledger: PG_URL, pgSchema });
  const endedAt = performance.now() - startedAt;
  const all = events.map((e) => ({ ...e, startedAt: e.startedAt - startedAt, endedAt: e.endedAt - startedAt }));
  all.sort((a, b) => a.startedAt - b.startedAt);
  const first = (re) => all.find((e) => re.test(e.text));
  const connect = first(/^CONNECT$/);
  const exists = first(/to_regclass/);
  const keys = first(/^SELECT id, chunk FROM/);
  const begin = all.filter((e) => e.text === 'BEGIN' && e.startedAt < keys.startedAt).at(-1);
  const started = all.find((e) => e.text === 'COMMIT' && e.startedAt > begin.startedAt);
  const note = first(/'in_flight'/);
  const commits = all.filter((e) => /^WITH fence/.test(e.text));
  const lastCommit = commits.at(-1);
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${pgSchema}" CASCADE`);
  await client.end();
  const statements = (from, to) => all.filter((e) => e.text !== 'CONNECT' && e.startedAt >= from && e.startedAt < to).length;
  process.stdout.write(
    JSON.stringify({
      'to the first connection': connect.startedAt,
      connecting: connect.endedAt - connect.startedAt,
      'whether the ledger exists': exists.endedAt - connect.endedAt,
      'creating it (when new) and the job': begin.startedAt - exists.endedAt,
      "the run's start (its transaction)": started.endedAt - begin.startedAt,
      'to the key index read': keys.endedAt - started.endedAt,
      'the records': lastCommit.endedAt - keys.endedAt,
      'after the last commit': endedAt - lastCommit.endedAt,
      'whole run': endedAt,
      'statements before the first note': statements(0, note.startedAt),
      'statements after the last commit': statements(lastCommit.endedAt, Infinity),
    }),
  );
}

if (process.argv[2] === 'run') {
  await traced(process.argv[3], process.argv[4]);
} else {
  const RECORDS = Number(process.env.RECORDS ?? 10_000);
  const RUNS = Number(process.env.RUNS ?? 9);
  const dist = process.env.DIST ?? join(here, '../dist/bundle');
  const base = mkdtempSync(join(tmpdir(), 'batchguard-pg-phases-'));
  const input = join(base, 'input.jsonl');
  await writeInput(input, RECORDS);
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(2))
      .join(' ');
  console.log(`${RECORDS} records, no-op handler, PostgreSQL ledger (new schema), ${dist}, ${RUNS} runs; load average ${load()}`);
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    runs.push(JSON.parse(execFileSync(process.execPath, [fileURLToPath(import.meta.url), 'run', dist, input], { encoding: 'utf8' })));
  }
  rmSync(base, { recursive: true, force: true });
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log('| phase | median ms (range) |');
  console.log('|---|--:|');
  for (const phase of Object.keys(runs[0])) {
    const values = runs.map((run) => run[phase]);
    const digits = phase.startsWith('statements') ? 0 : 1;
    console.log(
      `| ${phase} | ${median(values).toFixed(digits)} (${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}) |`,
    );
  }
  console.log(`load average at the end: ${load()}`);
}
