import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { failTimes, failWith, hang } from './fault-injectors.js';

async function settled(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'ok',
    (error: unknown) => error,
  );
}

describe('fault injectors', () => {
  it('failTimes(n) fails the first n calls of each key, then lets them through', async () => {
    const fault = failTimes(2);
    const results = [];
    for (const key of ['a', 'a', 'b', 'a', 'b', 'b']) results.push(await settled(fault({ key })));
    expect(results.map((r) => (r === 'ok' ? 'ok' : (r as Error).message))).toEqual([
      'injected failure 1 of 2',
      'injected failure 2 of 2',
      'injected failure 1 of 2',
      'ok',
      'injected failure 2 of 2',
      'ok',
    ]);
    expect([fault.calls, fault.failures]).toEqual([6, 4]);
  });

  it('failTimes throws the given error, or one built per call', async () => {
    const mine = new Error('mine');
    expect(await settled(failTimes(1, { error: mine })())).toBe(mine);
    const built = failTimes(2, { error: (call: number) => new Error(`call ${call}`) });
    await settled(built());
    expect(((await settled(built())) as Error).message).toBe('call 2');
  });

  it('failWith(error, { every }) fails every n-th call across keys', async () => {
    const error = Object.assign(new Error('bad request'), { status: 400 });
    const fault = failWith(error, { every: 3 });
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await settled(fault({ key: String(i) })));
    expect(results).toEqual(['ok', 'ok', error, 'ok', 'ok', error]);
    const always = failWith(error);
    expect(await settled(always())).toBe(error);
  });

  it('hang() waits until the signal aborts and rejects with its reason', async () => {
    const fault = hang();
    const controller = new AbortController();
    let done = false;
    const waiting = settled(fault({ signal: controller.signal })).then((r) => ((done = true), r));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toBe(false);
    controller.abort(new Error('timed out'));
    expect(((await waiting) as Error).message).toBe('timed out');
  });

  it('wrap(handler) meets the fault before the handler', async () => {
    const handler = failTimes(1).wrap((n: number, ctx: { key: string }) => `${ctx.key}:${n * 2}`);
    expect(await settled(handler(2, { key: 'k' }))).toBeInstanceOf(Error);
    expect(await handler(2, { key: 'k' })).toBe('k:4');
  });

  it('refuses bad arguments with a one-line error', () => {
    expect(() => failTimes(-1)).toThrow(ConfigError);
    expect(() => failTimes(1.5)).toThrow(/failTimes\(n\) must be an integer >= 0/);
    expect(() => failWith(new Error('x'), { every: 0 })).toThrow(/failWith\(error, \{ every \}\) must be an integer >= 1/);
    expect(() => failWith(undefined)).toThrow(/failWith\(error\) needs the error to throw/);
  });
});
