#!/usr/bin/env node
/**
 * The engine's own figures, for 1,000,000 JSONL records and a no-op handler:
 *   - records/s of a bare read-parse-call loop (readline + JSON.parse + await handler)
 *   - records/s of batchguard (SQLite ledger, default checkpointing, default concurrency)
 *   - their ratio (target ≥ 0.5) and batchguard's peak RSS (target < 200 MB)
 *   - the time a resume at 90% takes to reach its first new record (target < 1 s)
 * Each measurement runs in its own process so peak RSS is that run's alone.
 * Usage: npm run bench:engine   (RECORDS=200000 npm run bench:engine for a quicker look)
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

const RECORDS = Number(process.env.RECORDS ?? 1_000_000);
// Each throughput figure is the best of REPEAT runs, for both loops alike: this machine is shared,
// and a single run moves by ±30% with whatever else runs.
const REPEAT = Number(process.env.REPEAT ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-'));
const data = join(dir, 'records.jsonl');
const worker = new URL('./engine-throughput-worker.mjs', import.meta.url).pathname;

async function writeData() {
  const out = createWriteStream(data);
  for (let i = 0; i < RECORDS; i++) {
    const line = `{"id":${i},"name":"city-${i}","lat":${(i % 180) - 90 + 0.123},"lng":${(i % 360) - 180 + 0.456},"population":${i * 7}}\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
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
  await writeData();
  const best = (mode) => {
    let top;
    for (let i = 0; i < REPEAT; i++) {
      for (const suffix of ['', '-wal', '-shm', '.keys']) rmSync(join(dir, `ledger.sqlite${suffix}`), { force: true });
      const result = measure(mode);
      if (!top || result.recordsPerSecond > top.recordsPerSecond)
        top = { ...result, maxRssBytes: Math.max(result.maxRssBytes, top?.maxRssBytes ?? 0) };
    }
    return top;
  };
  const bare = best('bare');
  const guarded = best('batchguard');
  for (const suffix of ['', '-wal', '-shm', '.keys']) rmSync(join(dir, `ledger.sqlite${suffix}`), { force: true });
  measure('prepare-resume', { STOP_AT: String(Math.floor(RECORDS * 0.9)) });
  const resume = measure('resume');
  const mb = (bytes) => (bytes / 1024 / 1024).toFixed(0);
  const ratio = guarded.recordsPerSecond / bare.recordsPerSecond;
  console.log(
    `records:                         ${RECORDS.toLocaleString('en-US')} (throughput: best of ${REPEAT} runs each; peak RSS: the largest)`,
  );
  console.log(
    `bare loop:                       ${Math.round(bare.recordsPerSecond).toLocaleString('en-US')} records/s (peak RSS ${mb(bare.maxRssBytes)} MB)`,
  );
  console.log(
    `batchguard:                      ${Math.round(guarded.recordsPerSecond).toLocaleString('en-US')} records/s (peak RSS ${mb(guarded.maxRssBytes)} MB)`,
  );
  console.log(`ratio batchguard / bare:         ${ratio.toFixed(2)}  (target ≥ 0.5)`);
  console.log(`batchguard peak RSS:             ${mb(guarded.maxRssBytes)} MB  (target < 200 MB)`);
  console.log(
    `resume at 90%, first new record: ${resume.firstRecordMs.toFixed(0)} ms after runJob() (${resume.firstRecordFromStartMs.toFixed(0)} ms after process start)  (target < 1000 ms)`,
  );
  console.log(
    `resume at 90%: alreadyDone ${resume.alreadyDone.toLocaleString('en-US')}, processed ${resume.processed.toLocaleString('en-US')}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
