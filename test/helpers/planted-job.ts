/**
 * The job over the planted source (planted-dependencies.ts) that the worker tests with `dependsOn`
 * run, and what they compare between a shared and a single-process run: every stored row's
 * outcome and the counts, read from a PostgreSQL schema.
 */
import { FatalError } from '../../src/errors.js';
import { defineJob, type Job } from '../../src/job.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open-ledger.js';
import { jsonl } from '../../src/sources/jsonl.js';
import { PG_URL } from './pg-schema.js';
import { fails, type PlantedRecord } from './planted-dependencies.js';
import { rowsOf } from './stored.js';

/** Counts every handler call in `calls`; fails (fatally) the records `failing` names, `fails` by default. */
export function plantedJob(
  path: string,
  calls: Map<number, number>,
  options: { readonly failing?: (id: number) => boolean; readonly onCall?: (id: number) => void } = {},
): Job<PlantedRecord, unknown> {
  const failing = options.failing ?? fails;
  return defineJob<PlantedRecord>({
    name: 'planted',
    source: jsonl(path),
    key: (r) => String(r.id),
    dependsOn: (r) => r.after ?? [],
    concurrency: 8,
    retry: { maxAttempts: 1 },
    maxFailureRate: 1,
    handler: async (r) => {
      calls.set(r.id, (calls.get(r.id) ?? 0) + 1);
      options.onCall?.(r.id);
      await Promise.resolve();
      if (failing(r.id)) throw new FatalError(`bad record ${r.id}`);
    },
  });
}

/** Opens the planted job's ledger in `schema`, reads it, closes it. */
export async function withPlantedLedger<T>(schema: string, read: (ledger: Ledger) => Promise<T>): Promise<T> {
  const { ledger } = openLedger(PG_URL, { job: 'planted', pgSchema: schema });
  try {
    return await read(ledger);
  } finally {
    await ledger.close();
  }
}

/** What `status` and `failures` show: the counts, and every stored row's outcome (not its run or time). */
export async function plantedOutcomes(schema: string): Promise<unknown> {
  return withPlantedLedger(schema, async (ledger) => ({
    counts: await ledger.counts(),
    rows: (await rowsOf(ledger)).map((row) => ({
      seq: row.seq,
      key: row.key,
      status: row.status,
      kind: row.kind,
      attempts: row.attempts,
      blockedBy: row.blockedBy,
      message: row.error?.message,
    })),
  }));
}
