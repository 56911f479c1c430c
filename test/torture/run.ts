/**
 * The long torture suite (`npm run torture`; not part of `npm test`): every scenario at full size,
 * then a markdown table of the figures for docs/reliability.md. A scenario that breaks a promise is
 * reported as a figure (its problems listed under the table), not as a crash of the suite.
 *
 *   npm run torture                          everything (about 15–25 minutes on 2 shared cores)
 *   TORTURE_ONLY='kill storm' npm run torture  only the scenarios whose name contains this text
 *                                            (the PostgreSQL ones need the test server: test/helpers/pg-config.ts)
 *   TORTURE_SKIP='kill storm' npm run torture  all but the scenarios whose name contains this text
 *   TORTURE_SEED=7 npm run torture           another seed for the kill storms (default 1)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstRunKillsScenario } from './first-run-kills.js';
import { HOSTILE_CASES, hostileScenario } from './hostile-handlers.js';
import { HUGE_MESSAGE_CASES, hugeMessageScenario } from './huge-messages.js';
import { keyFileLossScenario } from './key-file-loss.js';
import { keySpillStormScenario } from './key-spill-storm.js';
import { CALL_LOG_BYTES, killStormScenario } from './kill-storm.js';
import { frozenInCommitScenario, LEASE, pidNamespaceScenario, stoppedHolderScenario } from './leases.js';
import { inFreshPgSchema } from './postgres-schema.js';
import type { ScenarioResult } from './scenario.js';
import { damagedLedgerScenario, deletedLedgerScenario, diskFullScenario } from './storage-faults.js';

const seed = Number(process.env.TORTURE_SEED ?? 1);
const only = process.env.TORTURE_ONLY;
const skip = process.env.TORTURE_SKIP;

/** A scenario of the long suite: its name (for TORTURE_ONLY) and how to run it in a fresh folder. */
interface LongScenario {
  name: string;
  run: (dir: string) => Promise<ScenarioResult>;
}

const scenarios: LongScenario[] = [
  ...[1, 8, 64].map((concurrency) => ({
    name: `kill storm ${concurrency}`,
    run: (dir: string) =>
      killStormScenario({
        dir,
        records: concurrency === 1 ? 5_000 : 20_000,
        concurrency,
        kills: 25,
        seed: seed * 1000 + concurrency,
        maxWaitMs: 4000,
      }),
  })),
  {
    // The same storm with its first kill after the first group commit: what holds once the defect
    // the first-commit window shows (see docs/reliability.md) is set aside.
    name: 'kill storm 1 after the first commit',
    run: (dir: string) =>
      killStormScenario({
        dir,
        records: 5_000,
        concurrency: 1,
        kills: 25,
        seed: seed * 1000 + 1,
        maxWaitMs: 4000,
        firstKillAfterBytes: CALL_LOG_BYTES * 600,
      }),
  },
  ...[
    { output: true },
    { output: false },
    { output: false, fromSpawnMs: 600 },
    { output: false, fromSpawnMs: 1000, maxRecordsPerRun: 1000, maxWaitMs: 800 },
    { output: false, worker: true },
  ].map((variant) => ({
    // The PostgreSQL ledger under the same storm, with bench/compare's failing handler (1 in 20
    // records failing once per process, 1 in 97 fatally). Without an output the run is one process
    // (--no-worker), whose commit is the one self-fencing statement alone, or a worker of the shared
    // run. The third storm lands every other kill in a run's start (the ledger's creation, the
    // lease, crash recovery; a run's first handler call comes 300-400 ms after its spawn here); the
    // fourth ends each run after 1000 records (exit 5), so that kills land in runs' ends too.
    name: `postgres kill storm 8${variant.output ? '' : ' no output'}${variant.worker ? ' worker' : ''}${variant.fromSpawnMs ? ' from the spawn' : ''}${variant.maxRecordsPerRun ? ' short runs' : ''}`,
    run: (dir: string) =>
      killStormScenario({
        dir,
        records: 20_000,
        concurrency: 8,
        kills: 25,
        seed: seed * 1000 + 8,
        maxWaitMs: 4000,
        ledger: 'postgres',
        transientEvery: 20,
        ...variant,
      }),
  })),
  {
    name: 'postgres first run killed',
    run: (dir: string) => firstRunKillsScenario(dir, { tries: 30, maxMs: 600, seed: seed * 1000 + 300 }),
  },
  ...HOSTILE_CASES.map((hostile) => ({ name: hostile.name, run: (dir: string) => hostileScenario(dir, hostile) })),
  ...HUGE_MESSAGE_CASES.map((huge) => ({ name: huge.name, run: (dir: string) => hugeMessageScenario(dir, huge) })),
  ...(
    [
      ['ledger', 0],
      ['ledger', 256],
      ['output', 256],
      ['ledger and output', 512],
    ] as const
  ).map(([where, kb]) => ({
    name: `disk full ${where} ${kb}`,
    run: (dir: string) => diskFullScenario(dir, { where, headroomBytes: kb * 1024, records: 40_000 }),
  })),
  ...(['with damaged pages', 'truncated to half', 'emptied (0 bytes)'] as const).map((damage) => ({
    name: `ledger ${damage}`,
    run: (dir: string) => damagedLedgerScenario(dir, damage),
  })),
  { name: 'ledger deleted mid-run', run: deletedLedgerScenario },
  ...(['deleted', 'emptied', 'cut mid-entry'] as const).map((loss) => ({
    name: `key file ${loss}`,
    run: (dir: string) => keyFileLossScenario(dir, loss),
  })),
  {
    // The key index's spills on a worker thread, SIGKILLed at random moments (every other kill in
    // the child's start: its open, the load of the runs and the checks).
    name: 'key spill storm',
    run: (dir: string) =>
      keySpillStormScenario({ dir, kills: 25, seed: seed * 1000 + 500, maxWaitMs: 400, fromSpawnMs: 600, finalKeys: 3000 }),
  },
  { name: 'lease pid namespace', run: (dir: string) => pidNamespaceScenario(dir, LEASE.defaults) },
  { name: 'lease pid namespace other host', run: (dir: string) => pidNamespaceScenario(dir, { ...LEASE.defaults, hostname: 'pod' }) },
  { name: 'lease stopped holder', run: (dir: string) => stoppedHolderScenario(dir, LEASE.defaults) },
  { name: 'lease stopped holder take-over', run: (dir: string) => stoppedHolderScenario(dir, LEASE.takeOver) },
  { name: 'lease holder frozen in a commit', run: frozenInCommitScenario },
  // Over PostgreSQL, with a 3 s lease: a stopped holder keeps its lock session, so a takeover
  // waits for the expiry (or, stopped inside a transaction, for the server to end it).
  ...[LEASE.short, { ...LEASE.takeOver, args: LEASE.short.args }].map((lease) => ({
    name: `postgres lease stopped holder${lease.takeOverArgs ? ' take-over' : ''}`,
    run: (dir: string) => inFreshPgSchema((pgSchema) => stoppedHolderScenario(dir, { ...lease, pgSchema })),
  })),
];

function row(result: ScenarioResult): string {
  const endings = [...new Set(result.endings)].join(', ');
  const verdict = result.problems.length === 0 ? 'held' : `**broken** (${result.problems.length})`;
  const counts = [result.lost, result.duplicated, result.redone, result.innocentQuarantines].map((n) =>
    result.booksRead ? String(n) : '–',
  );
  return `| ${result.scenario} | ${result.kills} | ${result.records} | ${counts.join(' | ')} | ${endings} | ${result.note ?? ''} | ${verdict} |`;
}

async function main(): Promise<void> {
  const results: ScenarioResult[] = [];
  for (const scenario of scenarios) {
    if ((only && !scenario.name.includes(only)) || (skip && scenario.name.includes(skip))) continue;
    const dir = mkdtempSync(join(tmpdir(), 'batchguard-torture-'));
    const started = Date.now();
    process.stderr.write(`torture: ${scenario.name} …\n`);
    try {
      const result = await scenario.run(dir);
      results.push(result);
      process.stderr.write(`  ${row(result)}\n`);
    } catch (error) {
      results.push({
        scenario: scenario.name,
        kills: 0,
        records: 0,
        lost: 0,
        duplicated: 0,
        redone: 0,
        innocentQuarantines: 0,
        endings: [],
        booksRead: false,
        problems: [`the scenario itself failed: ${(error as Error).stack ?? String(error)}`],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
      process.stderr.write(`  (${((Date.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  }
  console.log('| scenario | kills | records | lost | duplicated | redone | innocent quarantines | exit codes seen | figure | result |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|---|---|');
  for (const result of results) console.log(row(result));
  const broken = results.filter((r) => r.problems.length > 0);
  if (broken.length > 0) {
    console.log('\nProblems:\n');
    for (const result of broken) for (const problem of result.problems) console.log(`- ${result.scenario}: ${problem}`);
  }
  process.exitCode = broken.length > 0 ? 1 : 0;
}

await main();
