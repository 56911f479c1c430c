#!/usr/bin/env node
/**
 * What a huge error costs: records whose handler throws a 400 KB single-token message (the worst
 * case for the fingerprint's masks), and records that throw a 1 MB message, through the whole engine
 * (serialise, classify, fingerprint, redact, commit to a SQLite ledger, reports).
 *
 * Prints, per scenario: the CPU time the run used (its cost; the wall time also holds the waits of
 * the retry policy, the breaker and the group commit, which cost nothing), the wall time, the ledger's size (with its WAL and side files) and the
 * size of the run's reports. The target: 5 records with a 400 KB message cost under a second in all,
 * and 20 failures with a 1 MB message make a ledger of a few hundred KB, not 85 MB.
 * Also times the masking step alone on 400 KB, 4 MB and 10 MB single tokens.
 *
 * Usage: npm run bench:huge-errors   (builds first; env REPEAT=3)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineJob, FatalError, runJob, serializeError } from '../dist/index.js';
import { errorFingerprint } from '../dist/policy/fingerprint.js';

const REPEAT = Number(process.env.REPEAT ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'batchguard-bench-huge-'));

function sizeOf(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + sizeOf(join(path, name)), 0);
}

async function scenario(label, records, messageChars, makeError, maxAttempts) {
  let best = Infinity;
  let bestCpu = Infinity;
  let ledgerBytes = 0;
  let reportBytes = 0;
  for (let i = 0; i < REPEAT; i++) {
    const ledger = join(dir, `${label}-${i}.sqlite`);
    const message = 'x'.repeat(messageChars);
    const job = defineJob({
      name: 'huge-errors',
      source: Array.from({ length: records }, (_, id) => ({ id })),
      key: (r) => String(r.id),
      handler: async () => {
        throw makeError(message);
      },
      retry: { maxAttempts, backoff: { kind: 'constant', delayMs: 0 } },
      maxFailureRate: 1,
      // Every record fails alike: the breaker would rightly call it an outage and park them, and the
      // retry budget would spread the retries over windows of 10 s. Neither is what is measured.
      breaker: { enabled: false },
      retryBudget: { enabled: false },
    });
    const started = performance.now();
    const cpu = process.cpuUsage();
    await runJob(job, { ledger });
    const used = process.cpuUsage(cpu);
    best = Math.min(best, performance.now() - started);
    bestCpu = Math.min(bestCpu, (used.user + used.system) / 1000);
    ledgerBytes = readdirSync(dir)
      .filter((n) => n.startsWith(`${label}-${i}.sqlite`) && !n.endsWith('.runs'))
      .reduce((s, n) => s + sizeOf(join(dir, n)), 0);
    reportBytes = sizeOf(join(dir, `${label}-${i}.runs`));
  }
  console.log(
    `${label.padEnd(38)} CPU ${bestCpu.toFixed(0).padStart(5)} ms, wall ${best.toFixed(0).padStart(5)} ms (best of ${REPEAT})   ledger ${(ledgerBytes / 1024).toFixed(0).padStart(6)} KB   reports ${(reportBytes / 1024).toFixed(0).padStart(5)} KB`,
  );
}

console.log('through the engine (runJob, SQLite ledger in a temp dir):');
await scenario('5 × 400 KB single token, fatal', 5, 400_000, (m) => new FatalError(m), 1);
await scenario('5 × 400 KB single token, 3 attempts', 5, 400_000, (m) => new Error(m), 3);
await scenario('20 × 1 MB message, 3 attempts', 20, 1_000_000, (m) => new Error(`fetch https://u:p@h/ ${m}`), 3);

console.log('\nserializeError + errorFingerprint alone (one error):');
for (const chars of [400_000, 4_000_000, 10_000_000]) {
  const error = new Error('y'.repeat(chars));
  let best = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const started = performance.now();
    errorFingerprint(serializeError(error));
    best = Math.min(best, performance.now() - started);
  }
  console.log(`${`${(chars / 1e6).toFixed(1)} MB single token`.padEnd(38)} ${best.toFixed(2).padStart(8)} ms`);
}
rmSync(dir, { recursive: true, force: true });
