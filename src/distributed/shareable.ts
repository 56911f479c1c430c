/**
 * Whether several workers can share a job's run: what `run` over a PostgreSQL ledger asks before
 * it joins the shared run (and falls back to one process, saying why, when the answer is no), and
 * what `run --worker` refuses.
 */
import type { Job } from '../job.js';

/** What keeps a job from being shared, and the job's option that does. */
export interface ShareBlocker {
  /** The job's option: `output` or `source`. */
  readonly field: 'output' | 'source';
  /** Why, as the end of a sentence ("… cannot be shared: <why>"). */
  readonly why: string;
}

/**
 * Why `job`'s runs and reruns cannot be shared by several workers, or undefined when they can. A
 * job with `dependsOn` is shared in chunks of whole dependency components: a run's of the source
 * (component-chunk-plan.ts), a rerun's of its selection (rerun-components.ts).
 */
export function shareBlocker(job: Job<any, any>): ShareBlocker | undefined {
  if (job.output !== undefined) {
    return { field: 'output', why: `job ${job.name} writes an output file, which several workers cannot share` };
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
