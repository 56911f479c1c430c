/**
 * The SQLite ledger's key spills on a worker thread (structures/spilling-key-index.ts `RunSpiller`):
 * sorting 262,144 keys into a run, merging runs and writing them with their CRC-32s took ~6% of a
 * no-op record's CPU on the main thread (docs/benchmarks.md); the worker (key-run-spill-worker.ts)
 * does it while the main thread's second table takes the new keys. Started at the first spill, so a
 * run that never spills starts no thread; unreferenced, so it never keeps the process alive.
 *
 * Nothing the worker writes is believed before the main thread has its reply: the runs are named by
 * the main thread and listed by a manifest only once they are whole (ledger-keys.ts), so a process
 * killed mid-spill leaves files no manifest lists, which the next open deletes (key-runs.ts). A
 * worker that fails, dies, or shows no progress for {@link STALL_MS} while the main thread waits for it
 * is stopped, what it wrote is deleted, and the spill is done on the main thread instead.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { RunSpiller } from '../../structures/run-spiller.js';
import type { SortedRun } from '../../structures/sorted-run.js';
import type { KeyRunFiles } from './key-runs.js';
import type { SpillJob, SpillReply, SpillWorkerData } from './key-run-spill-worker.js';

/**
 * A worker that shows no progress for this long while the main thread waits for it is taken for
 * dead (it counts its start, each job and each 1 MB block written: milliseconds apart when alive).
 */
const STALL_MS = 10_000;
const WAIT_STEP_MS = 500;
const YOUNG_GENERATION_MB = 2;

/** Options of {@link KeyRunSpiller} (tests). */
export interface KeyRunSpillerOptions {
  /** The worker's module. @default key-run-spill-worker.js beside this module (dist/'s, when this one runs from src/) */
  readonly workerUrl?: URL;
  /** How long a waited-for worker may show no progress. @default 10000 */
  readonly stallMs?: number;
  /** Tests: the worker fails after writing this many files. */
  readonly failAfterFiles?: number;
}

export class KeyRunSpiller implements RunSpiller {
  private worker: Worker | undefined;
  private port: MessagePort | undefined;
  /** Word 0: replies the worker posted; word 1: blocks it wrote (key-run-spill-worker.ts). */
  private readonly signal = new Int32Array(new SharedArrayBuffer(8));
  private replies = 0;
  private job: { readonly names: readonly string[]; readonly runs: readonly SortedRun[] } | undefined;
  /** The worker failed to start, or exited: seen at the next look. */
  private failure: Error | undefined;

  constructor(
    private readonly files: KeyRunFiles,
    private readonly options: KeyRunSpillerOptions = {},
  ) {}

  /** The worker thread, once started (tests). */
  get thread(): Worker | undefined {
    return this.worker;
  }

  start(slots: Uint32Array, runs: readonly SortedRun[]): void {
    if (this.job) throw new Error('KeyRunSpiller.start with a spill under way');
    if (this.failure) {
      // The thread exited between spills: a new one takes this spill.
      this.close();
      this.failure = undefined;
    }
    const port = this.port ?? this.startWorker();
    const names = this.files.newRunNames(runs.length + 1);
    this.job = { names, runs };
    const job: SpillJob = {
      folder: this.files.folder,
      names,
      slots,
      runs: runs.map((run) => ({ name: run.data.name, pages: run.pages })),
      ...(this.options.failAfterFiles === undefined ? {} : { failAfterFiles: this.options.failAfterFiles }),
    };
    port.postMessage(job);
  }

  finished(wait: boolean): SortedRun[] | undefined {
    const job = this.job;
    if (job === undefined) return undefined;
    const reply = this.reply(wait);
    if (reply === undefined) return undefined;
    this.job = undefined;
    if (!reply.ok) {
      this.files.discard(job.names);
      throw new Error(`the key index's spill worker failed: ${reply.message}`);
    }
    const before = new Map(job.runs.map((run) => [run.data.name, run]));
    return reply.runs.map(({ name, pages }) => before.get(name) ?? this.files.adoptRun(name, pages));
  }

  close(): void {
    const job = this.job;
    this.job = undefined;
    const worker = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    if (worker) void worker.terminate();
    // A spill under way wrote files no manifest lists (the thread may write one more before it
    // stops: the next open deletes what no manifest lists).
    if (job) this.files.discard(job.names);
  }

  private startWorker(): MessagePort {
    const channel = new MessageChannel();
    const data: SpillWorkerData = { port: channel.port2, signal: this.signal };
    // No execArgv: the thread needs none of the process's loaders or flags. A small young
    // generation: its garbage (a page's subarray, a block's) dies young, and a default-sized one
    // stayed resident, ~25 MB more peak RSS at 10M records.
    const worker = new Worker(this.options.workerUrl ?? workerUrl(), {
      workerData: data,
      transferList: [channel.port2],
      execArgv: [],
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
    worker.unref();
    worker.on('error', (error) => (this.failure ??= error));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.failure ??= new Error(`the key index's spill worker exited with code ${code}`);
    });
    channel.port1.unref();
    this.worker = worker;
    this.port = channel.port1;
    return channel.port1;
  }

  /** The worker's reply, or undefined while it works (`wait`: blocks until it replies). */
  private reply(wait: boolean): SpillReply | undefined {
    let progress = Atomics.load(this.signal, 1);
    let idleMs = 0;
    for (;;) {
      if (this.failure) return this.fail(this.failure);
      const received = this.port && receiveMessageOnPort(this.port);
      if (received) {
        this.replies++;
        return received.message as SpillReply;
      }
      if (!wait) return undefined;
      // A worker that died mid-spill replies never: its progress tells a slow one from a dead one.
      if (Atomics.wait(this.signal, 0, this.replies, WAIT_STEP_MS) === 'timed-out') {
        const now = Atomics.load(this.signal, 1);
        idleMs = now === progress ? idleMs + WAIT_STEP_MS : 0;
        progress = now;
        const stallMs = this.options.stallMs ?? STALL_MS;
        if (idleMs >= stallMs) return this.fail(new Error(`the key index's spill worker showed no progress for ${stallMs} ms`));
      }
    }
  }

  private fail(error: Error): never {
    this.close();
    this.failure = undefined;
    throw error;
  }
}

/**
 * The worker's module beside this one. Under vitest this module is src/…/key-run-spiller.ts, and
 * Node cannot run TypeScript in a thread: the worker is dist/'s build of it (`npm run build`); when
 * there is none, the worker fails to start and spills are done on the main thread.
 */
function workerUrl(): URL {
  const url = new URL('./key-run-spill-worker.js', import.meta.url);
  const path = fileURLToPath(url);
  const at = path.lastIndexOf('/src/');
  if (!import.meta.url.endsWith('.ts') || at < 0) return url;
  const built = `${path.slice(0, at)}/dist/${path.slice(at + 5)}`;
  return existsSync(built) ? pathToFileURL(built) : url;
}
