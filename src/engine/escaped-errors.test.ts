import { AsyncResource } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import { stat } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentAttempt, inAttempt, type AttemptScope } from './escaped-errors.js';

const run = { uncaught: () => {} };
const scope = (key: string): AttemptScope => ({ run, key, fail: () => true });

/** Resolves with what `currentAttempt()` is inside a callback that `start` schedules. */
function seenIn(start: (report: () => void) => void): Promise<string | undefined> {
  return new Promise((resolve) => start(() => resolve(currentAttempt()?.key)));
}

describe('the attempt scope', () => {
  it('is the attempt inside the call, and none outside it', () => {
    expect(currentAttempt()).toBeUndefined();
    expect(inAttempt(scope('a'), (x: number, y: number) => `${currentAttempt()?.key} ${x + y}`, 1, 2)).toBe('a 3');
    expect(currentAttempt()).toBeUndefined();
  });

  it('is the outer attempt again after a nested one, and after a call that threw', () => {
    const keys = inAttempt(
      scope('outer'),
      () => {
        const inner = inAttempt(scope('inner'), () => currentAttempt()?.key, undefined, undefined);
        expect(() =>
          inAttempt(
            scope('thrower'),
            () => {
              throw new Error('x');
            },
            undefined,
            undefined,
          ),
        ).toThrow('x');
        return [inner, currentAttempt()?.key];
      },
      undefined,
      undefined,
    );
    expect(keys).toEqual(['inner', 'outer']);
  });

  it('travels into timers, immediates, ticks, microtasks, I/O callbacks and continuations after an await', async () => {
    const seen = await inAttempt(
      scope('r1'),
      async () => {
        const early = await Promise.all([
          seenIn((report) => setTimeout(report, 1)),
          seenIn((report) => setImmediate(report)),
          seenIn((report) => process.nextTick(report)),
          seenIn((report) => queueMicrotask(report)),
          seenIn((report) => stat('.', report)),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 1));
        // Created after an await: carried by the promise the handler resumed from.
        const late = await seenIn((report) => setTimeout(report, 1));
        return [...early, late];
      },
      undefined,
      undefined,
    );
    expect(seen).toEqual(['r1', 'r1', 'r1', 'r1', 'r1', 'r1']);
  });

  it('keeps two attempts apart, and gives nothing to what was set up outside them', async () => {
    const emitter = new EventEmitter();
    const outside = seenIn((report) => setTimeout(report, 5));
    const [a, b] = await Promise.all([
      inAttempt(scope('a'), () => seenIn((report) => setTimeout(report, 2)), undefined, undefined),
      inAttempt(scope('b'), () => seenIn((report) => setTimeout(report, 1)), undefined, undefined),
    ]);
    // A listener runs in the scope of whoever emits, as any synchronous call.
    const heard = new Promise<string | undefined>((resolve) => emitter.once('x', () => resolve(currentAttempt()?.key)));
    inAttempt(scope('emitter'), () => emitter.emit('x'), undefined, undefined);
    expect([a, b, await outside, await heard]).toEqual(['a', 'b', undefined, 'emitter']);
  });

  it("gives what runs in another resource's scope that resource's attempt, even inside a handler call", async () => {
    // A pool's callback bound to the attempt that queued it (AsyncResource), run synchronously by
    // another attempt's call: what it starts belongs to the attempt that queued it.
    const bound = inAttempt(scope('queued'), () => new AsyncResource('pool-callback'), undefined, undefined);
    const [inside, timer, after] = inAttempt(
      scope('running'),
      () => {
        const [key, later] = bound.runInAsyncScope(() => [currentAttempt()?.key, seenIn((report) => setTimeout(report, 1))] as const);
        return [key, later, currentAttempt()?.key] as const;
      },
      undefined,
      undefined,
    );
    expect([inside, await timer, after]).toEqual(['queued', 'queued', 'running']);
  });
});
