/**
 * Group commit: outcomes wait here until `everyRecords` of them have gathered or `everyMs` has
 * passed, then go to the ledger in one transaction with the new watermark.
 */
import type { Clock } from '../clock.js';
import type { CommitBatch, Ledger, RecordRow, SeqRange } from '../ledger/ledger.js';
import type { OutputSink } from '../sinks/output-sink.js';
import type { SourcePosition, SourceSample } from '../sources/source.js';
import { maskMessage } from '../policy/fingerprint.js';
import type { RowOutcome } from '../domain/outcome.js';
import { storedHistory, type OpenRecord } from './open-record.js';

/** A row waiting for its commit: `updatedAt` is stamped when the commit is cut (see commit). */
type BufferedRow = Omit<RecordRow, 'updatedAt'> & { updatedAt: string };

export class Checkpointer {
  private succeeded: number[] = [];
  private rows: BufferedRow[] = [];
  private writing: Promise<void> = Promise.resolve();
  /** Outcomes committed by this run so far. */
  committed = 0;
  /** When the source was last sampled at the watermark (performance.now()). */
  private sampledAtMs = -Infinity;

  constructor(
    private readonly ledger: Ledger,
    private readonly runId: string,
    private readonly everyRecords: number,
    /** The output sink, if the job has one: its writes are committed with the same batch. */
    private readonly output: OutputSink | undefined,
    /** A re-run stores successes as rows (replacing the failed rows), not as ranges. */
    private readonly successesAsRows: boolean,
    /** The run's clock: it stamps the rows of each commit. */
    private readonly clock: Clock,
    /** Samples the source's bytes at the watermark, stored with it so that a resume notices an edit there. */
    private readonly sampleAt?: (offset: number) => Promise<SourceSample | undefined>,
  ) {}

  get buffered(): number {
    return this.succeeded.length + this.rows.length;
  }

  /** Adds a success (and its result, to the output sink); returns true when the batch is full. */
  addSucceeded(entry: OpenRecord, value: unknown): boolean {
    this.output?.write(value, entry);
    if (this.successesAsRows) {
      this.rows.push({
        seq: entry.position.seq,
        key: entry.key,
        status: 'succeeded',
        attempts: entry.attempt,
        history: storedHistory(entry),
        runId: this.runId,
        line: entry.position.line,
        offset: entry.position.offset,
        updatedAt: UNSTAMPED,
      });
    } else {
      this.succeeded.push(entry.position.seq);
    }
    return this.succeeded.length + this.rows.length >= this.everyRecords;
  }

  /** Adds an outcome stored as a row; returns true when the batch is full and should be committed. */
  add(outcome: RowOutcome): boolean {
    if (outcome.status === 'skipped') {
      this.rows.push({
        seq: outcome.position.seq,
        key: outcome.key,
        status: 'skipped',
        attempts: 0,
        blockedBy: outcome.blockedBy,
        runId: this.runId,
        line: outcome.position.line,
        offset: outcome.position.offset,
        updatedAt: UNSTAMPED,
      });
    } else {
      this.rows.push({
        seq: outcome.position.seq,
        key: outcome.key,
        status: 'failed',
        kind: outcome.kind,
        attempts: outcome.attempts,
        error: outcome.error,
        fingerprint: outcome.fingerprint,
        template: outcome.template ?? maskMessage(outcome.error.message),
        rule: outcome.rule,
        history: outcome.history,
        runId: this.runId,
        line: outcome.position.line,
        offset: outcome.position.offset,
        updatedAt: UNSTAMPED,
      });
    }
    return this.buffered >= this.everyRecords;
  }

  /** The next commit samples the source whatever the time (the run's last commit). */
  sampleNextCommit(): void {
    this.sampledAtMs = -Infinity;
  }

  private sampleDue(exhausted: boolean): boolean {
    if (!this.sampleAt) return false;
    const now = performance.now();
    if (!exhausted && now - this.sampledAtMs < SAMPLE_EVERY_MS) return false;
    this.sampledAtMs = now;
    return true;
  }

  /**
   * Commits what is buffered with the given watermark. Commits are serialised: a slow backend
   * never sees two at once, and they land in order.
   */
  commit(watermark: SourcePosition | undefined, seen: number, exhausted: boolean): Promise<void> {
    // One time for the batch's rows, read from the run's clock: when their outcomes were recorded.
    if (this.rows.length > 0) {
      const updatedAt = new Date(this.clock.now()).toISOString();
      for (const row of this.rows) row.updatedAt = updatedAt;
    }
    const batch: CommitBatch = {
      runId: this.runId,
      succeeded: toRanges(this.succeeded),
      rows: this.rows,
      watermark,
      seen,
      exhausted,
    };
    const count = this.buffered;
    this.succeeded = [];
    this.rows = [];
    // Cut the output at the same instant as the batch: results written after this belong to the
    // next batch, so the committed output length always matches the committed outcomes.
    const sealed = this.output?.seal();
    this.writing = this.writing.then(async () => {
      // A run that lost its lease (it was frozen while another took over) must not touch the
      // output either: the ledger's transaction fences the commit, but not the sink's write.
      if (this.output) await this.ledger.assertHeld();
      const outputState = this.output ? await this.output.flush(sealed) : undefined;
      const sourceSample =
        watermark?.offset !== undefined && this.sampleDue(exhausted) ? await this.sampleAt?.(watermark.offset) : undefined;
      await this.ledger.commit({ ...batch, outputState, sourceSample });
      this.committed += count;
    });
    return this.writing;
  }
}

/** A buffered row's `updatedAt` until its commit stamps it. */
const UNSTAMPED = '';

/**
 * The resume-point sample is a file read: taken with the first commit, then at most once a
 * second, and with the commit that ends the source. An older sample stays valid (it is compared at
 * its own offset); it only covers a spot a little before where the run stopped.
 */
const SAMPLE_EVERY_MS = 1000;

/** Contiguous ranges of the given sequence numbers. */
export function toRanges(seqs: number[]): SeqRange[] {
  if (seqs.length === 0) return [];
  seqs.sort((a, b) => a - b);
  const ranges: SeqRange[] = [];
  let first = seqs[0] as number;
  let last = first;
  for (let i = 1; i < seqs.length; i++) {
    const seq = seqs[i] as number;
    if (seq === last + 1) {
      last = seq;
    } else {
      ranges.push({ first, last });
      first = last = seq;
    }
  }
  ranges.push({ first, last });
  return ranges;
}
