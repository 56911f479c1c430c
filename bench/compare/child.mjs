/**
 * One contender, one handler, one input, in its own process (so peak RSS is this run's alone, and a
 * crash kills only it). Prints one JSON line on stdout.
 *
 *   node child.mjs <contender> <handler> <input.jsonl> <count> <state-dir> <mode>
 *
 * mode `run`: the whole input, timed. `crash`: the same, tracked, and at 90% of the records done
 * (a handler call that returned, or failed for good) the process writes which records had been
 * handed to the handler and SIGKILLs itself. `resume`: the contender starts again over the same
 * state and runs to its end; it reports when the first record not handed to the handler before the
 * crash reached it, and how many records were handed to it again (redone). `cleanup`: removes
 * what the contender keeps outside the state folder (a Redis queue, a PostgreSQL schema).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { handlers } from './handlers.mjs';

const [contenderName, handlerName, data, countText, stateDir, mode] = process.argv.slice(2);
const count = Number(countText);
const { run, cleanup } = await import(`./contenders/${contenderName}.mjs`);
const inner = handlers[handlerName]();
const now = () => performance.timeOrigin + performance.now();
const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

let clockStartedAt = now();
const context = {
  data,
  count,
  stateDir,
  resume: mode === 'resume',
  /** Records in flight at once, for the contenders that have the notion. */
  concurrency: Number(process.env.CONCURRENCY ?? 8),
  /** Contenders call this after their setup (connections, schema), so that setup is not timed. */
  startClock: () => {
    clockStartedAt = now();
  },
  handler: inner,
};
if (mode === 'crash' || mode === 'resume') context.handler = tracked();

function tracked() {
  const startedBefore = mode === 'resume' ? readFileSync(join(stateDir, 'started.bin')) : undefined;
  const started = new Uint8Array(count);
  const crashAt = mode === 'crash' ? Math.floor(count * 0.9) : Infinity;
  let done = 0;
  const finished = () => {
    if (++done === crashAt) {
      writeFileSync(join(stateDir, 'started.bin'), started);
      writeFileSync(join(stateDir, 'crash.json'), JSON.stringify({ elapsedMs: now() - clockStartedAt, done, maxRssBytes: maxRssBytes() }));
      process.kill(process.pid, 'SIGKILL');
    }
  };
  context.tracking = { started, startedBefore, redone: 0, firstNewAt: undefined };
  const t = context.tracking;
  return (record) => {
    const id = record.id;
    if (startedBefore !== undefined) {
      if (startedBefore[id] === 0) t.firstNewAt ??= now();
      else if (started[id] === 0) t.redone++;
    }
    started[id] = 1;
    return inner(record).then(finished, (error) => {
      if (error?.fatal) finished();
      throw error;
    });
  };
}

if (mode === 'cleanup') {
  await cleanup?.(context);
  process.exit(0);
}
const result = (await run(context)) ?? {};
const elapsedMs = now() - clockStartedAt;
const report = { elapsedMs, maxRssBytes: maxRssBytes() };
if (context.tracking) {
  const t = context.tracking;
  // Records a queue still holds as active for the dead worker: it hands them out again once their
  // lock expires, after this run has ended.
  const stuckRedone = (result.stuck ?? []).filter((id) => t.startedBefore?.[id] === 1 && t.started[id] === 0).length;
  Object.assign(report, { firstNewAt: t.firstNewAt, redone: t.redone + stuckRedone, stuck: result.stuck?.length ?? 0 });
}
process.stdout.write(`${JSON.stringify(report)}\n`);
// Queues' clients keep sockets and timers open; the measurement is over.
process.exit(0);
