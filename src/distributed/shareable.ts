/**
 * Whether several workers can share a job's run: what `run` over a PostgreSQL ledger asks before
 * it joins the shared run (and falls back to one process, saying why, when the answer is no), and
 * what `run --worker` refuses.
 */
import type { Job } from '../job.js';

/** What keeps a job from being shared, and the job's option that does. */
export interface ShareBlocker {
  /** The job's option: `output`, `dependsOn` or `source`. */
  readonly field: 'output' | 'dependsOn' | 'source';
  /** Why, as the end of a sentence ("… cannot be shared: <why>"). */
  readonly why: string;
}

/**
 * Why `job`'s run (or, with `rerun`, its rerun) cannot be shared by several workers, or undefined
 * when it can. A run with `dependsOn` is shared in chunks of whole dependency components
 * (component-chunk-plan.ts); a rerun's chunks are slices of its selection, which would part a
 * failed parent from the children it blocks, so a rerun with `dependsOn` is not shared.
 */
export function shareBlocker(job: Job<any, any>, options: { readonly rerun?: boolean } = {}): ShareBlocker | undefined {
  if (job.output !== undefined) {
    return { field: 'output', why: `job ${job.name} writes an output file, which several workers cannot share` };
  }
  if (job.dependsOn !== undefined && options.rerun === true) {
    return {
      field: 'dependsOn',
      why:
        `job ${job.name} uses dependsOn, and workers do not share its reruns yet ` +
        "(a failed parent and the children it blocks may be in different chunks of the rerun's selection)",
    };
  }
  if (!job.source.seekable) {
    return {
      field: 'source',
      why:
        `the source ${job.source.description} cannot start reading in the middle, which every worker must ` +
        '(jsonl(path) or csv(path) on storage every worker can read, or postgresTable(...), can)',
    };
  }
  return undefined;
}
