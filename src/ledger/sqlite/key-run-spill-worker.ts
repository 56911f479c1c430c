/**
 * The spill worker's thread (key-run-spiller.ts starts it): sorts a full key table, shared with the
 * main thread and unchanged while it works, into a new run file under a name the main thread chose,
 * and merges the newest runs as a spill on the main thread would (merge-newest-runs.ts). It deletes
 * the files it wrote and merged away itself; the runs listed before stay (the main thread reads them
 * until a manifest no longer lists them). Every reply is counted in the shared signal's word 0, and
 * its start, each job and each block written in word 1, so that a main thread waiting for it can
 * tell it is alive.
 */
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { mergeNewestRuns } from '../../structures/merge-newest-runs.js';
import { sortIntoRun } from '../../structures/sort-into-run.js';
import { RUN_ENTRY_BYTES, SortedRun, type RunBytes, type RunPages, type RunSink, type RunStore } from '../../structures/sorted-run.js';
import { createRunFile, runFileBytes } from './key-run-file.js';
import { pagesName } from './key-run-pages.js';

/** A run as the two threads name it: its file in the folder and its pages. */
export interface SpilledRun {
  readonly name: string;
  readonly pages: RunPages;
}

/** What the main thread asks. */
export interface SpillJob {
  readonly folder: string;
  /** Names for the files this spill writes, in order (one more than the runs: a sort, then merges). */
  readonly names: readonly string[];
  /** The full table (a KeyIndex's shared slots: four uint32 a slot, (0, 0) empty). */
  readonly slots: Uint32Array;
  /** The runs before this spill, oldest first. */
  readonly runs: readonly SpilledRun[];
  /** Tests: fail after writing this many files (a crash mid-spill). */
  readonly failAfterFiles?: number;
}

/** What the worker answers: the runs after the spill, oldest first, or why it failed. */
export type SpillReply = { readonly ok: true; readonly runs: SpilledRun[] } | { readonly ok: false; readonly message: string };

/** What the main thread gives the worker when it starts. */
export interface SpillWorkerData {
  readonly port: MessagePort;
  /** Word 0: replies posted; word 1: progress (its start, each job, each block written). */
  readonly signal: Int32Array;
}

/** Runs in a folder: the worker's own reads, and the files it writes under the names it was given. */
class WorkerRunStore implements RunStore {
  private next = 0;
  private readonly fds = new Map<string, number>();
  private readonly written = new Set<string>();

  constructor(
    private readonly job: SpillJob,
    private readonly progress: () => void,
  ) {}

  create(): RunSink {
    const name = this.job.names[this.next++];
    if (name === undefined) throw new Error('the spill wrote more runs than it was given names for');
    if (this.job.failAfterFiles !== undefined && this.written.size >= this.job.failAfterFiles) {
      throw new Error(`failing after ${this.written.size} files, as the test asked`);
    }
    const { fd, sink } = createRunFile(join(this.job.folder, name), (fd, bytes) => runFileBytes(name, fd, bytes), this.progress);
    this.fds.set(name, fd);
    this.written.add(name);
    return sink;
  }

  /** A run listed before this spill, to read. */
  open(run: SpilledRun): SortedRun {
    const fd = openSync(join(this.job.folder, run.name), constants.O_RDONLY);
    this.fds.set(run.name, fd);
    return new SortedRun(runFileBytes(run.name, fd, run.pages.entries * RUN_ENTRY_BYTES), run.pages);
  }

  /** Merged away: a file of this spill's goes (no manifest ever listed it); one listed before stays. */
  remove(run: RunBytes): void {
    const fd = this.fds.get(run.name);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(run.name);
    if (!this.written.delete(run.name)) return;
    rmSync(join(this.job.folder, run.name), { force: true });
    rmSync(join(this.job.folder, pagesName(run.name)), { force: true });
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}

/** Does one job; the files it wrote are left for the main thread to delete when it throws. */
export function spill(job: SpillJob, progress: () => void): SpilledRun[] {
  const store = new WorkerRunStore(job, progress);
  try {
    const runs = job.runs.map((run) => store.open(run));
    // Straight from the table's slots (about in hash order: key-index.ts), its empty ones skipped.
    runs.push(sortIntoRun(job.slots, store));
    mergeNewestRuns(runs, store, (run) => store.remove(run.data));
    return runs.map((run) => ({ name: run.data.name, pages: run.pages }));
  } finally {
    store.close();
  }
}

if (workerData !== null && typeof workerData === 'object' && 'signal' in workerData) {
  const { port, signal } = workerData as SpillWorkerData;
  Atomics.add(signal, 1, 1);
  port.on('message', (job: SpillJob) => {
    Atomics.add(signal, 1, 1);
    let reply: SpillReply;
    try {
      reply = { ok: true, runs: spill(job, () => Atomics.add(signal, 1, 1)) };
    } catch (error) {
      reply = { ok: false, message: error instanceof Error ? (error.stack ?? error.message) : String(error) };
    }
    port.postMessage(reply);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
}
