/**
 * The job every torture scenario runs: JSONL records `{ id, name }`, a handler that logs each call
 * (`<pid> <id> <attempt>` in calls.log, so redone calls can be counted), fails every `failEvery`-th
 * record with a FatalError (one call per failed record), optionally fails every `transientEvery`-th
 * record's first attempt in each process with a plain error (retried), and writes its result
 * through jsonlOutput. Its ledger is a SQLite file, or a schema of the test PostgreSQL
 * (`pgSchema`). Scenarios add hostile code for some records, module-level code, job options.
 *
 * No vitest here: the long suite (run.ts) uses it too.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonl } from '../helpers/cli.js';
import { PG_URL } from '../helpers/pg-config.js';

export interface TortureJob {
  /** The folder the job, its records, its calls log and (by default) its ledger live in. */
  dir: string;
  /** @default 'torture' */
  name?: string;
  records: number;
  concurrency: number;
  /** The handler's base wait; each record waits between this and twice this. @default 1 */
  delayMs?: number;
  /** Records whose id % failEvery === failEvery - 1 throw a FatalError. @default no failures */
  failEvery?: number;
  /**
   * Records whose id % transientEvery === transientEvery - 1 throw a plain Error on their first
   * attempt in each process (as bench/compare's failing handler: a service unavailable once), and
   * are retried 10 ms later. @default none
   */
  transientEvery?: number;
  /** @default { everyRecords: 200, everyMs: 100 } */
  checkpoint?: { everyRecords: number; everyMs: number };
  /** Where jsonlOutput writes, or false for no output sink. @default `<dir>/out/results.jsonl` */
  output?: string | false;
  /** The ledger file (`--ledger`). @default `<dir>/.batchguard/<name>.sqlite` */
  ledger?: string;
  /** A schema of the test PostgreSQL (PG_URL) to keep the ledger in, instead of a SQLite file. @default none */
  pgSchema?: string;
  /** Statements run in the handler after its wait, before the normal path (`r`, `ctx`, `once(tag)` in scope). */
  hostile?: string;
  /** Module-level statements (after the imports). */
  prelude?: string;
  /** More job options, as JavaScript property text (`maxCrashes: 5,`). */
  options?: string;
  /** Flags for every `run` (e.g. `--lease 3s`). */
  flags?: string[];
  /** Writes the records file itself instead of `{ id, name }` lines (e.g. with a duplicate key). */
  writeRecords?: (path: string) => void;
}

/** The paths a torture job uses. */
export interface JobPaths {
  records: string;
  calls: string;
  output: string | undefined;
  /** The SQLite file, or PG_URL for a ledger in `pgSchema`. */
  ledger: string;
  jobFile: string;
}

export function jobPaths(job: TortureJob): JobPaths {
  const name = job.name ?? 'torture';
  return {
    records: join(job.dir, 'records.jsonl'),
    calls: join(job.dir, 'calls.log'),
    output: job.output === false ? undefined : (job.output ?? join(job.dir, 'out', 'results.jsonl')),
    ledger: job.pgSchema === undefined ? (job.ledger ?? join(job.dir, '.batchguard', `${name}.sqlite`)) : PG_URL,
    jobFile: join(job.dir, 'job.mjs'),
  };
}

/** The flags that name the job's ledger (given explicitly, so every command agrees). */
export function ledgerArgs(job: TortureJob): string[] {
  const ledger = ['--ledger', jobPaths(job).ledger];
  return job.pgSchema === undefined ? ledger : [...ledger, '--pg-schema', job.pgSchema];
}

/** The `run` arguments for this job. */
export function runArgs(job: TortureJob, ...extra: string[]): string[] {
  return ['run', 'job.mjs', ...ledgerArgs(job), '--no-progress', ...(job.flags ?? []), ...extra];
}

/** Writes the records (once) and the job module into `job.dir`. */
export function writeTortureJob(job: TortureJob): JobPaths {
  const paths = jobPaths(job);
  if (!existsSync(paths.records)) {
    if (job.writeRecords) job.writeRecords(paths.records);
    else writeJsonl(job.dir, 'records.jsonl', job.records);
  }
  const text = JSON.stringify;
  const delay = job.delayMs ?? 1;
  const checkpoint = job.checkpoint ?? { everyRecords: 200, everyMs: 100 };
  writeFileSync(
    paths.jobFile,
    `
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { defineJob, jsonl, jsonlOutput, FatalError } from 'batchguard';

const CALLS = ${text(paths.calls)};
/** True the first time \`tag\` is asked for in this folder, across runs (a fault that happens once). */
const once = (tag) => {
  const marker = ${text(job.dir)} + '/once-' + tag;
  if (existsSync(marker)) return false;
  writeFileSync(marker, '');
  return true;
};
void once;
/** The records that failed their transient error in this process (transientEvery). */
const failedOnce = new Set();
${job.prelude ?? ''}
export default defineJob({
  name: ${text(job.name ?? 'torture')},
  source: jsonl(${text(paths.records)}),
  key: (r) => String(r.id),
  concurrency: ${job.concurrency},
  checkpoint: ${text(checkpoint)},
  maxFailureRate: 0.5,
  ${paths.output ? `output: jsonlOutput(${text(paths.output)}),` : ''}
  ${job.transientEvery ? "retry: { maxAttempts: 3, backoff: { kind: 'exponential', initialDelayMs: 10, maxDelayMs: 100 } }," : ''}
  ${job.options ?? ''}
  handler: async (r, ctx) => {
    void ctx;
    appendFileSync(CALLS, process.pid + ' ' + r.id + ' ' + ctx.attempt + '\\n');
    // Spread the waits so records finish out of order (the watermark lags the commits).
    if (${delay} > 0) await new Promise((resolve) => setTimeout(resolve, ${delay} + ((r.id * 7919) % (${delay} + 1))));
    ${job.hostile ?? ''}
    ${job.transientEvery ? `if (r.id % ${job.transientEvery} === ${job.transientEvery - 1} && !failedOnce.has(r.id)) { failedOnce.add(r.id); throw new Error('record ' + r.id + ': service unavailable'); }` : ''}
    ${job.failEvery ? `if (r.id % ${job.failEvery} === ${job.failEvery - 1}) throw new FatalError('record ' + r.id + ' is bad');` : ''}
    return { id: r.id, name: r.name };
  },
});
`,
  );
  return paths;
}

/** The ids the job's own rule fails (`failEvery`). */
export function ruleFailures(job: TortureJob): number[] {
  const every = job.failEvery;
  if (!every) return [];
  const ids: number[] = [];
  for (let id = every - 1; id < job.records; id += every) ids.push(id);
  return ids;
}
