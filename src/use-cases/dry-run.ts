/**
 * `run --dry-run`: reads and validates the whole source (parseable, keys present and unique) and
 * says what a run would do, without calling the handler or taking the ledger.
 */
import { existsSync } from 'node:fs';
import type { Job } from '../job.js';
import { isMemoryLedger, openLedger } from '../ledger/open-ledger.js';
import { isPostgresSpec } from '../ledger/ledger-location.js';
import type { ResumeState } from '../ledger/ledger.js';
import { FinishedSet } from '../structures/finished-set.js';
import { KeyIndex } from '../structures/key-index.js';
import { thrownMessage } from '../policy/error-fields.js';
import { keyProblem } from '../domain/unusable-record.js';

const SAMPLES = 10;

export interface DryRunReport {
  readonly job: string;
  readonly source: string;
  readonly ledger: string;
  /** Records in the source (parseable or not). */
  readonly total: number;
  /** Records that already have an outcome in the ledger. */
  readonly alreadyDone: number;
  /** Records a `run` would hand to the handler (valid, unique, not done). */
  readonly wouldProcess: number;
  /** Records a run would fail as `invalid`: unparseable, no key, or a repeated key. */
  readonly invalid: number;
  readonly problems: readonly { readonly line?: number; readonly seq: number; readonly message: string }[];
}

export async function dryRun(job: Job<any, any>, ledgerPath: string, pgSchema?: string): Promise<DryRunReport> {
  const resume = await readResumeState(ledgerPath, job.name, pgSchema);
  const finished = new FinishedSet(resume?.finishedAbove ?? []);
  const floor = resume?.watermark?.seq ?? 0;
  const keys = new KeyIndex();
  const problems: { line?: number; seq: number; message: string }[] = [];
  let total = 0;
  let alreadyDone = 0;
  let invalid = 0;
  let wouldProcess = 0;
  const problem = (seq: number, line: number | undefined, message: string): void => {
    invalid++;
    if (problems.length < SAMPLES) problems.push({ seq, ...(line !== undefined ? { line } : {}), message });
  };
  for await (const item of job.source.read()) {
    total++;
    const { seq, line } = item.position;
    const done = seq < floor || finished.has(seq);
    if (done) alreadyDone++;
    if (item.kind === 'invalid') {
      problem(seq, line, item.message);
      continue;
    }
    let key: unknown;
    try {
      key = job.key(item.value);
    } catch (error) {
      problem(seq, line, `job.key threw: ${thrownMessage(error)}`);
      continue;
    }
    const wrong = keyProblem(key);
    if (wrong !== undefined) {
      problem(seq, line, wrong);
      continue;
    }
    const earlier = keys.add(key as string, seq, line ?? 0);
    if (earlier) {
      problem(
        seq,
        line,
        `duplicate key ${JSON.stringify(key)}, first at ${earlier.line > 0 ? `line ${earlier.line}` : `record #${earlier.seq}`}`,
      );
      continue;
    }
    if (!done) wouldProcess++;
  }
  return { job: job.name, source: job.source.description, ledger: ledgerPath, total, alreadyDone, wouldProcess, invalid, problems };
}

async function readResumeState(ledgerPath: string, job: string, pgSchema: string | undefined): Promise<ResumeState | undefined> {
  if (isMemoryLedger(ledgerPath) || (!isPostgresSpec(ledgerPath) && !existsSync(ledgerPath))) return undefined;
  const { ledger } = openLedger(ledgerPath, { job, pgSchema });
  try {
    // A database where the job never ran has nothing to resume, and is not created by looking.
    if ((await ledger.hasRuns?.()) === false) return undefined;
    return await ledger.inspect();
  } finally {
    await ledger.close();
  }
}
