#!/usr/bin/env node
/**
 * The engine's own figures, for 1,000,000 JSONL records and a no-op handler:
 *   - records/s of a bare read-parse-call loop (readline + JSON.parse + await handler)
 *   - records/s of batchguard (SQLite ledger, default checkpointing, default concurrency, duplicate keys checked)
 *   - their ratio (target ≥ 0.7), measured REPEAT times with the two runs back to back, so that
 *     whatever else loads this shared machine weighs on both alike: the median and the spread
 *   - CPU time per record of both (user + system, all threads): steadier than wall time under load
 *   - batchguard's peak RSS (target < 200 MB)
 *   - the time a resume at 90% takes to reach its first new record (target < 2 s), after a run
 *     stopped there (its signal aborted) and after a run SIGKILLed there, with the CPU time it took
 *   - the load average around the resumes (other work on this shared machine stretches wall time)
 * Each measurement runs in its own process so peak RSS is that run's alone.
 * Usage: npm run bench:engine   (RECORDS=200000 REPEAT=2 npm run bench:engine for a quicker look;
 * RECORDS=10000000 REPEAT=1 for the 10M run; BENCH_TRACING=noop or BENCH_TRACING=sdk for a run with the job's
 * `tracing` on; BENCH_EVENTS=cli for a run with an event subscriber like the CLI's; see engine-throughput-worker.mjs)
 */
import { execFileSync } from 'node:child_process';
import { writeEngineInput } from './engine-input.mjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
// A single run moves by ±30% with whatever else runs on this shared machine: ratios are taken
// within a round (bare loop and batchguard back to back) and REPEAT rounds give their spread.
const REPEAT = Number(process.env.REPEAT ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-'));
const data = join(dir, 'records.jsonl');
const worker = new URL('./engine-throughput-worker.mjs', import.meta.url).pathname;

/** The load average now (1, 5 and 15 minutes): other work on this shared machine stretches wall time. */
function uptime() {
  return loadavg()
    .map((load) => load.toFixed(1))
    .join(' / ');
}

/** Runs the worker in `prepare-crash` mode, which kills itself. */
function crash(extra) {
  try {
    execFileSync(process.execPath, [worker, 'prepare-crash', data, join(dir, 'ledger.sqlite')], {
      env: { ...process.env, ...extra },
      stdio: 'ignore',
    });
  } catch (error) {
    if (error.signal !== 'SIGKILL') throw error;
  }
}

function measure(mode, extra = {}) {
  const output = execFileSync(process.execPath, [worker, mode, data, join(dir, 'ledger.sqlite')], {
    env: { ...process.env, ...extra },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(output.trim().split('\n').pop());
}

try {
  await writeEngineInput(data, RECORDS);
  const rounds = [];
  for (let i = 0; i < REPEAT; i++) {
    const bare = measure('bare');
    for (const suffix of ['', '-wal', '-shm', '.keys', '.keys.sorted', '.runs', '.lock'])
      rmSync(join(dir, `ledger.sqlite${suffix}`), { recursive: true, force: true });
    const guarded = measure('batchguard');
    rounds.push({ bare, guarded, ratio: guarded.recordsPerSecond / bare.recordsPerSecond });
  }
  const clear = () => {
    for (const suffix of ['', '-wal', '-shm', '.keys', '.keys.sorted', '.runs', '.lock'])
      rmSync(join(dir, `ledger.sqlite${suffix}`), { recursive: true, force: true });
  };
  clear();
  const started = uptime();
  measure('prepare-resume', { STOP_AT: String(Math.floor(RECORDS * 0.9)) });
  const resume = measure('resume');
  // The same after a crash: the run SIGKILLed at 90% (its last batch not committed, the key index's
  // filter not kept at its end).
  clear();
  crash({ STOP_AT: String(Math.floor(RECORDS * 0.9)) });
  const crashed = measure('resume');
  const ended = uptime();
  const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);
  const rate = (n) => Math.round(n).toLocaleString('en-US');
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cpuPerRecord = (run) =>
    `${((run.cpuMs * 1000) / RECORDS).toFixed(2)}${Number.isNaN(run.mainCpuMs) ? '' : `, main thread ${((run.mainCpuMs * 1000) / RECORDS).toFixed(2)}`}`;
  const ratios = rounds.map((round) => round.ratio);
  console.log(`records:                         ${RECORDS.toLocaleString('en-US')}; ${REPEAT} rounds of bare loop then batchguard`);
  for (const [i, { bare, guarded, ratio }] of rounds.entries()) {
    console.log(
      `round ${i + 1}: bare ${rate(bare.recordsPerSecond)} records/s (${cpuPerRecord(bare)} µs CPU a record), ` +
        `batchguard ${rate(guarded.recordsPerSecond)} records/s (${cpuPerRecord(guarded)} µs CPU a record), ratio ${ratio.toFixed(2)}`,
    );
  }
  const cpuRatios = rounds.map((round) => round.bare.cpuMs / round.guarded.cpuMs);
  console.log(
    `ratio batchguard / bare:         median ${median(ratios).toFixed(2)}, spread ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}  (target ≥ 0.7)`,
  );
  console.log(
    `ratio of CPU time, bare / batchguard: median ${median(cpuRatios).toFixed(2)}, spread ${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}`,
  );
  const peak = Math.max(...rounds.map((round) => round.guarded.maxRssBytes));
  console.log(`batchguard peak RSS:             ${mb(peak)} MB  (target < 200 MB; bare loop ${mb(rounds[0].bare.maxRssBytes)} MB)`);
  console.log(
    `resume at 90%, first new record: ${resume.firstRecordMs.toFixed(0)} ms after runJob() (${resume.firstRecordFromStartMs.toFixed(0)} ms after process start; ${resume.firstRecordCpuMs.toFixed(0)} ms of CPU)  (target < 2000 ms)`,
  );
  console.log(
    `resume at 90%: alreadyDone ${resume.alreadyDone.toLocaleString('en-US')}, processed ${resume.processed.toLocaleString('en-US')}, peak RSS ${mb(resume.maxRssBytes)} MB`,
  );
  console.log(
    `resume after a SIGKILL at 90%, first new record: ${crashed.firstRecordMs.toFixed(0)} ms after runJob() (${crashed.firstRecordFromStartMs.toFixed(0)} ms after process start; ${crashed.firstRecordCpuMs.toFixed(0)} ms of CPU); alreadyDone ${crashed.alreadyDone.toLocaleString('en-US')}, peak RSS ${mb(crashed.maxRssBytes)} MB`,
  );
  console.log(`load average (1 / 5 / 15 min) before the resumes: ${started}; after: ${ended}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
