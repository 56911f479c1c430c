/**
 * Errors that escape a handler, for a program that embeds batchguard (`runJob` from code). Each case
 * runs in its own Node process: what is tested is what happens to the process (its listeners, its
 * life), which a test runner's own listeners would hide.
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/temp.js';

const DIST = resolve(import.meta.dirname, '../../dist/index.js');
const TESTING = resolve(import.meta.dirname, '../../dist/testing/index.js');

/**
 * Runs `body` as an ES module in a new process, with `defineJob`, `runJob`, `jsonlOutput`, `sleep`
 * and `ledger` (a fresh path) in scope; returns the JSON values it printed, one per line. The cases
 * check the exit code with stderr as the assertion's message (`expect(code, stderr)`), so that a
 * process that ended otherwise shows why.
 */
function inProcess(body: string): { code: number | null; printed: any[]; stderr: string } {
  const ledger = join(tempDir(), 'ledger.sqlite');
  const script = `
import { defineJob, runJob, jsonlOutput } from ${JSON.stringify(DIST)};
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const ledger = ${JSON.stringify(ledger)};
const listeners = () => ({ uncaught: process.listenerCount('uncaughtException'), rejection: process.listenerCount('unhandledRejection') });
// Whether async hooks are on: with them, each promise continuation runs as its own async resource.
const { executionAsyncId } = await import('node:async_hooks');
const hooksOn = async () => { await null; const id = executionAsyncId(); await null; return id !== executionAsyncId(); };
const print = (value) => console.log(JSON.stringify(value));
${body}
`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  const printed = result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  return { code: result.status, printed, stderr: result.stderr };
}

describe('runJob and errors that escape the handler', () => {
  it('an error escaping a running attempt fails that record; the listeners and the async hooks exist only during the run', () => {
    const { code, printed, stderr } = inProcess(`
print({ ...listeners(), hooks: await hooksOn() });
const during = [];
const job = defineJob({
  name: 'escapes', source: Array.from({ length: 20 }, (_, id) => ({ id })), key: (r) => String(r.id), maxFailureRate: 1,
  handler: async (r) => {
    during.push({ ...listeners(), hooks: await hooksOn() });
    if (r.id === 3) await new Promise(() => setTimeout(() => { throw new TypeError('thrown in a timer'); }, 1));
    if (r.id === 5) { Promise.reject(new Error('nobody awaited it')); await new Promise((resolve) => setTimeout(resolve, 10_000).unref()); }
    return r.id;
  },
});
const summary = await runJob(job, { ledger });
print({ status: summary.status, succeeded: summary.succeeded, failed: summary.failed, errors: summary.topErrors.map((e) => e.message).sort() });
print(during[0]);
print({ ...listeners(), hooks: await hooksOn() });
`);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(printed[0]).toEqual({ uncaught: 0, rejection: 0, hooks: false });
    expect(printed[1]).toEqual({ status: 'completed', succeeded: 18, failed: 2, errors: ['nobody awaited it', 'thrown in a timer'] });
    expect(printed[2]).toEqual({ uncaught: 1, rejection: 1, hooks: true });
    // An AsyncLocalStorage would have kept them on: every promise of the process would pay for them.
    expect(printed[3]).toEqual({ uncaught: 0, rejection: 0, hooks: false });
  });

  it('an error outside any record stops the run with status uncaught-error; the process lives on, and a later run resumes', () => {
    const { code, printed, stderr } = inProcess(`
const job = (stray) => defineJob({
  name: 'stray', source: Array.from({ length: 200 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r) => {
    if (stray && r.id === 50) setImmediate(() => queueMicrotask(() => { throw new Error('lost its context'); }));
    await sleep(2);
  },
});
const events = [];
const first = await runJob(job(true), { ledger, onEvent: (e) => { if (e.type === 'run:uncaught-error') events.push(e); } });
print({ status: first.status, reason: first.reason, next: first.next, succeeded: first.succeeded, events: events.map((e) => [e.error.message, e.origin ?? null]) });
print(listeners());
const second = await runJob(job(false), { ledger });
print({ status: second.status, succeeded: second.succeeded, alreadyDone: second.alreadyDone, total: second.total });
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toMatchObject({ status: 'uncaught-error', events: [['lost its context', null]] });
    expect(printed[0].reason).toMatch(
      /^an error escaped the job's code outside any record: Error: lost its context; what finished is saved, \d+ records? left pending; run again to go on$/,
    );
    expect(printed[0].succeeded).toBeGreaterThan(0);
    expect(printed[1]).toEqual({ uncaught: 0, rejection: 0 });
    expect(printed[2]).toEqual({ status: 'completed', succeeded: 200, alreadyDone: printed[0].succeeded, total: 200 });
  });

  it('an error from a record whose attempt has ended stops the run, naming the record', () => {
    // Ordered by the script, not by timers: Node may fire a 5 ms timer before a 2 ms one made just
    // after it (a busy loop does), and record 7's throw then failed its running attempt; its retry,
    // last of the run, threw after runJob had returned, and Node's default ended the process (exit 1).
    const { code, printed, stderr } = inProcess(`
let thrown;
const escaped = new Promise((resolve) => (thrown = resolve));
const job = defineJob({
  name: 'late', source: Array.from({ length: 100 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r) => {
    // Record 7 returns at once: its attempt has ended before any timer it started fires.
    if (r.id === 7) {
      setTimeout(() => { thrown(); throw new Error('after the record had succeeded'); }, 1);
      return;
    }
    // The last record waits for the throw: the run is still on when it comes.
    if (r.id === 99) await escaped;
    await sleep(2);
  },
});
const summary = await runJob(job, { ledger });
print({ status: summary.status, reason: summary.reason, attempts: summary.attempts, succeeded: summary.succeeded });
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toMatchObject({ status: 'uncaught-error' });
    expect(printed[0].reason).toContain('from record "7", after its attempt had ended: Error: after the record had succeeded');
    // Record 7 ran once and succeeded: the error did not fail it.
    expect(printed[0].attempts).toBe(printed[0].succeeded);
  });

  it('a rejection nobody awaited, from a run that never waits on a timer, stops the run instead of ending the process after it', () => {
    // Node reports an unhandled rejection once the microtasks have run; this whole run is microtasks
    // (an array, a handler that returns at once, SQLite's synchronous commits).
    const { code, printed, stderr } = inProcess(`
const job = defineJob({
  name: 'unawaited', source: Array.from({ length: 10 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r) => { if (r.id === 9) Promise.reject(new Error('nobody awaited it')); },
});
const summary = await runJob(job, { ledger });
print({ status: summary.status, reason: summary.reason, succeeded: summary.succeeded });
await sleep(20);
print(listeners());
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toMatchObject({ status: 'uncaught-error', succeeded: 10 });
    expect(printed[0].reason).toContain('from record "9", after its attempt had ended: Error: nobody awaited it');
    expect(printed[1]).toEqual({ uncaught: 0, rejection: 0 });
  });

  it('an error that escapes while the run writes its last commit stops the run, naming the record', () => {
    const { code, printed, stderr } = inProcess(`
const { memoryLedger } = await import(${JSON.stringify(TESTING)});
const store = memoryLedger();
const commit = store.commit.bind(store);
let lastCommitStarted, thrown;
const lastCommit = new Promise((resolve) => (lastCommitStarted = resolve));
const escaped = new Promise((resolve) => (thrown = resolve));
// The last commit (the one that says the source was read to its end) waits for the throw.
store.commit = async (batch) => {
  if (batch.exhausted) { lastCommitStarted(); await escaped; }
  return commit(batch);
};
const job = defineJob({
  name: 'finishing', source: Array.from({ length: 10 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r) => {
    // From record 9's context, once every record has its outcome and the last commit is on its way.
    if (r.id === 9) lastCommit.then(() => setTimeout(() => { thrown(); throw new Error('while the last commit was written'); }, 1));
  },
});
const summary = await runJob(job, { ledger: store });
print({ status: summary.status, reason: summary.reason, succeeded: summary.succeeded });
print(listeners());
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toMatchObject({ status: 'uncaught-error', succeeded: 10 });
    expect(printed[0].reason).toContain('from record "9", after its attempt had ended: Error: while the last commit was written');
    expect(printed[1]).toEqual({ uncaught: 0, rejection: 0 });
  });

  it('results the output cannot write, and a throwing format(), fail their record as fatal', () => {
    const dir = tempDir();
    const { code, printed, stderr } = inProcess(`
const job = defineJob({
  name: 'unwritable', source: Array.from({ length: 30 }, (_, id) => ({ id })), key: (r) => String(r.id), maxFailureRate: 1,
  output: jsonlOutput(${JSON.stringify(join(dir, 'out.jsonl'))}, { format: (value) => { if (value.id === 9) throw new Error('format refused'); return value; } }),
  handler: async (r) => (r.id === 4 ? { id: r.id, big: 1n } : { id: r.id }),
});
const summary = await runJob(job, { ledger });
print({ succeeded: summary.succeeded, failed: summary.failed, errors: summary.topErrors.map((e) => e.message).sort() });
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toEqual({
      succeeded: 28,
      failed: 2,
      errors: [
        `the handler's result could not be written to jsonl:${join(dir, 'out.jsonl')}: Error: format refused`,
        `the handler's result could not be written to jsonl:${join(dir, 'out.jsonl')}: TypeError: Do not know how to serialize a BigInt`,
      ],
    });
  });

  it('an async onEvent subscriber that rejects, and a throwing one, neither fail records nor stop the run', () => {
    const { code, printed, stderr } = inProcess(`
const job = defineJob({
  name: 'events', source: Array.from({ length: 20 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r, ctx) => { ctx.log('working'); await sleep(1); },
});
let calls = 0;
const summary = await runJob(job, { ledger, onEvent: async (e) => { calls++; if (calls % 2) throw new Error('subscriber broke'); await Promise.reject(new Error('async subscriber broke')); } });
const again = await runJob(job, { ledger: ledger + '2', onEvent: () => { throw new Error('sync subscriber broke'); } });
print({ status: summary.status, succeeded: summary.succeeded, again: again.status });
`);
    expect(code, stderr).toBe(0);
    expect(printed[0]).toEqual({ status: 'completed', succeeded: 20, again: 'completed' });
  });

  it('with attributeEscapes false, an error escaping a running attempt stops the run instead', () => {
    const { code, printed, stderr } = inProcess(`
const job = defineJob({
  name: 'unscoped', source: Array.from({ length: 50 }, (_, id) => ({ id })), key: (r) => String(r.id),
  handler: async (r) => {
    if (r.id === 0) hooks = await hooksOn();
    if (r.id === 3) await new Promise(() => setTimeout(() => { throw new TypeError('thrown in a timer'); }, 1));
    await sleep(2);
  },
  shutdownGraceMs: 100,
});
let hooks;
const summary = await runJob(job, { ledger, attributeEscapes: false });
print({ status: summary.status, reason: summary.reason, failed: summary.failed, hooks });
`);
    expect(code, stderr).toBe(0);
    // Without scopes, no async hook is turned on.
    expect(printed[0]).toMatchObject({ status: 'uncaught-error', failed: 0, hooks: false });
    expect(printed[0].reason).toContain('outside any record: TypeError: thrown in a timer');
  });
});
