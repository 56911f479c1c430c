/**
 * One measurement of bench/dependencies.mjs, in its own process (so maxRSS is this run's alone).
 * Prints one JSON line.
 *
 *   node [--expose-gc] bench/dependencies-worker.mjs <data.jsonl|data.csv> <ledger.sqlite> <deps|none> [peak|at=N]
 *
 * `deps` runs the job with `dependsOn: (r) => r.parent ? [r.parent] : []`, `none` without it (the
 * baseline). `peak` (needs --expose-gc) also takes the live heap at the first handler call, after a
 * full GC: in the children-first order that is the moment the most records wait (every record before
 * the first root is held), so the heap then is what the waiting records cost. The GC pause (well
 * under a second at 1M records) is included in the elapsed time. `at=N` takes the same snapshot at
 * the first handler call after N records were read instead: the same point in a run without
 * dependsOn, whose memory there (the key index, the ledger's buffers) is subtracted.
 */
import { csv, defineJob, jsonl, startRun } from '../dist/index.js';

const [data, ledger, mode, peak] = process.argv.slice(2);
const measurePeak = (peak === 'peak' || peak?.startsWith('at=')) && typeof globalThis.gc === 'function';
const snapshotAtRead = peak?.startsWith('at=') ? Number(peak.slice(3)) : 0;
const NONE = Object.freeze([]);

/** With HELD_WHOLE=1, the source without its reader of single records: waiting records are held whole, as before they could be stored. */
function heldWhole(source) {
  if (process.env.HELD_WHOLE !== '1') return source;
  const { openReader: _, ...rest } = source;
  return rest;
}

let handle;
let atFirstCall;
let peakWaiting = 0;
let peakHeap = 0;

/** Records read and held without an outcome that are not running: waiting on a dependency (or ready, queued for a slot). */
function waitingNow() {
  const p = handle.progress();
  return Math.max(0, p.read - p.succeeded - p.failed - p.alreadyDone - p.inFlight);
}

function sample() {
  const waiting = waitingNow();
  if (waiting > peakWaiting) peakWaiting = waiting;
  const heap = process.memoryUsage().heapUsed;
  if (heap > peakHeap) peakHeap = heap;
}

const job = defineJob({
  name: 'bench-deps',
  // A CSV root has an empty parent (''), as a JSONL root has null: both are falsy below.
  source: heldWhole(data.endsWith('.csv') ? csv(data) : jsonl(data)),
  key: (r) => r.id,
  ...(mode === 'deps' ? { dependsOn: (r) => (r.parent ? [r.parent] : NONE) } : {}),
  handler: async () => {
    // Sampled at every call (a few tens of ns, against a few µs per record): exact enough for the
    // short waits of the parents-first orders, which a 50 ms timer misses.
    const waiting = waitingNow();
    if (waiting > peakWaiting) peakWaiting = waiting;
    if (atFirstCall === undefined && handle.progress().read >= snapshotAtRead) {
      if (measurePeak) {
        globalThis.gc();
        globalThis.gc();
        const m = process.memoryUsage();
        atFirstCall = {
          waiting,
          read: handle.progress().read,
          heapUsed: m.heapUsed,
          arrayBuffers: m.arrayBuffers,
          external: m.external,
          rss: m.rss,
        };
      } else {
        atFirstCall = { waiting };
      }
    }
  },
  maxFailureRate: 1,
});

const started = performance.now();
handle = startRun(job, { ledger });
const timer = setInterval(sample, 50);
const summary = await handle.done;
const elapsedMs = performance.now() - started;
clearInterval(timer);
sample();

console.log(
  JSON.stringify({
    total: summary.total,
    succeeded: summary.succeeded,
    failed: summary.failed,
    skipped: summary.skipped,
    pending: summary.pending,
    status: summary.status,
    elapsedMs,
    recordsPerSecond: summary.succeeded / (elapsedMs / 1000),
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    peakWaiting,
    peakHeapSampled: peakHeap,
    atFirstCall,
  }),
);
