/**
 * Which records of the source a run hands to the handler. `run` processes everything that has no
 * outcome yet; `rerun` only the stored failures (and skips) that match its filter.
 */
import type { Job } from '../job.js';
import type { RecordRow, ResumeState } from '../ledger/ledger.js';
import type { SourceItem, SourcePosition } from '../sources/source.js';
import { FinishedSet } from '../structures/finished-set.js';
import { keyOfPosition } from '../domain/unusable-record.js';
import { formatKeySample } from '../report/key-lines.js';

export type Choice = 'process' | 'skip' | 'stop';

export interface Selector {
  /** Where to start reading; undefined for the start of the source. */
  readonly from: SourcePosition | undefined;
  /** Only `run` moves the watermark: a re-run reads selectively, so it proves nothing about order. */
  readonly movesWatermark: boolean;
  /** First-time successes go to ranges; a re-run's successes replace the failed rows. */
  readonly successesAsRows: boolean;
  pick(item: SourceItem<unknown>): Choice;
  /** What the user should know once reading ended (keys that were asked for and not found…). */
  warnings(exhausted: boolean): string[];
}

/** `run`: everything after the watermark that has no outcome yet. */
export function resumeSelector(resume: ResumeState): Selector {
  const finished = new FinishedSet(resume.finishedAbove);
  return {
    from: resume.watermark && resume.watermark.seq > 0 ? resume.watermark : undefined,
    movesWatermark: true,
    successesAsRows: false,
    pick: (item) => (finished.has(item.position.seq) ? 'skip' : 'process'),
    warnings: () => [],
  };
}

/** The stored rows a re-run selected, and the keys it was asked for (when narrowed by `--keys`). */
export interface RerunPlan {
  readonly rows: readonly Pick<RecordRow, 'seq' | 'key' | 'line' | 'offset'>[];
  /** `--keys`: the keys asked for. Keys that match no selected row are reported. */
  readonly keys: ReadonlySet<string> | undefined;
}

/**
 * `rerun`: the selected rows, found by sequence number. Reading starts at the first one (seeking
 * when the source can) and stops after the last, unless `--keys` asked for keys that must be
 * looked for in the whole source, to report the ones it does not contain.
 */
export function rerunSelector(job: Job<any, any>, plan: RerunPlan, seekable: boolean): Selector {
  const rows = plan.rows;
  let next = 0;
  const selectedKeys = new Set(rows.map((row) => row.key));
  const unseen = plan.keys ? new Set([...plan.keys].filter((key) => !selectedKeys.has(key))) : undefined;
  const first = rows[0];
  const from =
    !unseen && first && first.seq > 0 && seekable && first.offset !== undefined
      ? { seq: first.seq, line: first.line, offset: first.offset }
      : undefined;
  const notFailed: string[] = [];
  const elsewhere: string[] = [];
  return {
    from,
    movesWatermark: false,
    successesAsRows: true,
    pick(item) {
      const seq = item.position.seq;
      if (unseen && unseen.size > 0 && item.kind === 'record') {
        const key = safeKey(job, item.value);
        if (key !== undefined && unseen.delete(key)) notFailed.push(key);
      }
      while (next < rows.length && (rows[next] as { seq: number }).seq < seq) next++;
      if (next < rows.length && (rows[next] as { seq: number }).seq === seq) {
        const row = rows[next++] as { key: string };
        // The position is only where the record was: the record found there must still have the key.
        // A record that had no usable key (invalid JSON, or a key function that threw, gave no string,
        // or repeated another key) was recorded under its position, and is the record found there: the
        // source is the one the ledger recorded (checked before the run), whatever key the job's
        // `key` (fixed since, maybe) gives it now.
        if (row.key === keyOfPosition(item.position)) return 'process';
        const key = item.kind === 'record' ? safeKey(job, item.value) : undefined;
        if (key === row.key) return 'process';
        elsewhere.push(row.key);
      }
      return next >= rows.length && (!unseen || unseen.size === 0) ? 'stop' : 'skip';
    },
    warnings(exhausted) {
      const warnings: string[] = [];
      if (notFailed.length > 0) {
        warnings.push(
          `${notFailed.length} of the keys given have not failed (they succeeded or were never processed), left alone: ${formatKeySample(notFailed)}`,
        );
      }
      if (elsewhere.length > 0) {
        warnings.push(
          `${elsewhere.length} of the selected records are no longer where the ledger recorded them (the source changed), left alone; \`run --accept-drift\` matches the outcomes to the records by key: ${formatKeySample(elsewhere)}`,
        );
      }
      if (unseen && unseen.size > 0 && exhausted) {
        warnings.push(`${unseen.size} of the keys given are not in the source: ${formatKeySample([...unseen])}`);
      }
      return warnings;
    },
  };
}

function safeKey(job: Job<any, any>, value: unknown): string | undefined {
  try {
    return job.key(value);
  } catch {
    return undefined;
  }
}
