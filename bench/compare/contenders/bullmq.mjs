/**
 * BullMQ on the local Redis: one job per record, added in bulk (1000 a call) before a worker with
 * CONCURRENCY slots processes them; 3 attempts 10 ms apart, a fatal error becomes
 * UnrecoverableError (no retry); completed jobs removed, failed ones kept. Timed from the first
 * add to the last job done. A restart starts a worker on the same queue; jobs the dead worker held
 * stay active until their lock expires (30 s by default), then BullMQ hands them out again.
 */
import { basename } from 'node:path';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { readLines } from '../input.mjs';

const connection = {
  host: process.env.REDIS_HOST ?? '127.0.0.1',
  port: Number(process.env.REDIS_PORT ?? 6379),
  maxRetriesPerRequest: null,
};
const NAME = 'records';
const ATTEMPTS = 3;
const prefixOf = (stateDir) => `batchguard-bench-${basename(stateDir)}`;

export async function run({ data, count, stateDir, handler, concurrency, resume, startClock }) {
  const prefix = prefixOf(stateDir);
  const queue = new Queue(NAME, { connection, prefix });
  await queue.waitUntilReady();
  startClock();
  if (!resume) {
    const options = { attempts: ATTEMPTS, backoff: { type: 'fixed', delay: 10 }, removeOnComplete: true, removeOnFail: false };
    let batch = [];
    for await (const line of readLines(data)) {
      batch.push({ name: 'record', data: JSON.parse(line), opts: options });
      if (batch.length === 1000) {
        await queue.addBulk(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await queue.addBulk(batch);
  }
  let finished = 0;
  let inFlight = 0;
  let allFinished;
  const done = new Promise((resolve) => (allFinished = resolve));
  const worker = new Worker(
    NAME,
    async (job) => {
      inFlight++;
      try {
        await handler(job.data);
      } catch (error) {
        throw error?.fatal ? new UnrecoverableError(error.message) : error;
      } finally {
        inFlight--;
      }
    },
    { connection, prefix, concurrency },
  );
  const settle = () => {
    if (++finished === count) allFinished();
  };
  worker.on('completed', settle);
  worker.on('failed', (job, error) => {
    if (error?.name === 'UnrecoverableError' || (job?.attemptsMade ?? 0) >= ATTEMPTS) settle();
  });
  worker.on('error', () => {});
  let stuck = [];
  if (resume) {
    // The records left are unknown here: wait until nothing is waiting or delayed and this worker
    // is idle, twice in a row; what is still active then belongs to the dead worker.
    for (let idle = 0; idle < 2;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const counts = await queue.getJobCounts('wait', 'delayed', 'prioritized', 'paused');
      idle = inFlight === 0 && Object.values(counts).every((n) => n === 0) ? idle + 1 : 0;
    }
    stuck = (await queue.getActive()).map((job) => job.data.id);
  } else {
    await done;
  }
  await worker.close(true);
  await queue.close();
  return { stuck };
}

/** Deletes every key of this measurement's queue. */
export async function cleanup({ stateDir }) {
  const queue = new Queue(NAME, { connection, prefix: prefixOf(stateDir) });
  await queue.obliterate({ force: true });
  await queue.close();
}
