/**
 * `ctx.step`: completed steps are stored in the ledger and replayed by later attempts, so their
 * side effects happen once per record however often the record is retried.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runJob } from '../../src/engine/run-job.js';
import { defineJob, type Handler } from '../../src/job.js';
import { ManualClock, failTimes, memoryLedger } from '../../src/testing/index.js';
import { drive } from '../helpers/drive.js';
import { tempDir } from '../helpers/temp.js';

/** One record 'a', attempts timing out after 1 s, retried twice 100 ms apart: a step outliving its attempt. */
function timedOutStepJob(name: string, handler: Handler<{ id: string }, unknown>) {
  return defineJob<{ id: string }>({
    name,
    source: [{ id: 'a' }],
    key: (o) => o.id,
    timeoutMs: 1_000,
    retry: { maxAttempts: 3, backoff: { kind: 'constant', delayMs: 100 } },
    handler,
  });
}

describe('durable steps', () => {
  it('a handler with three steps whose third fails twice does the first two side effects once', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    const effects: string[] = [];
    const emailDown = failTimes(2, { error: Object.assign(new Error('smtp unavailable'), { code: 'ECONNRESET' }) });
    const job = defineJob<{ id: string; amount: number }>({
      name: 'orders',
      source: [
        { id: 'o1', amount: 10 },
        { id: 'o2', amount: 20 },
      ],
      key: (o) => o.id,
      retry: { maxAttempts: 3 },
      handler: async (order, ctx) => {
        const charge = await ctx.step('charge', () => {
          effects.push(`charge ${order.id}`);
          return { chargeId: `ch_${order.id}`, amount: order.amount };
        });
        await ctx.step('receipt', () => {
          effects.push(`receipt ${order.id} ${charge.chargeId}`);
        });
        return ctx.step('email', async () => {
          await emailDown(ctx);
          effects.push(`email ${order.id}`);
          return `sent ${charge.chargeId} ${charge.amount}`;
        });
      },
    });
    try {
      const summary = await drive(runJob(job, { ledger, clock, random: () => 0 }), clock);
      expect(summary).toMatchObject({ status: 'completed', succeeded: 2, failed: 0, attempts: 6 });
      expect(effects.filter((e) => e.startsWith('charge')).sort()).toEqual(['charge o1', 'charge o2']);
      expect(effects.filter((e) => e.startsWith('receipt')).sort()).toEqual(['receipt o1 ch_o1', 'receipt o2 ch_o2']);
      expect(effects.filter((e) => e.startsWith('email')).sort()).toEqual(['email o1', 'email o2']);
      expect(emailDown.calls).toBe(6);
      expect((await ledger.completedSteps('o1')).get('charge')).toEqual({ result: '{"chargeId":"ch_o1","amount":10}' });
    } finally {
      await ledger.close();
    }
  });

  it('a retry after a timeout waits for the step its timed-out attempt is still in, instead of starting it again', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    const charges: number[] = [];
    const job = timedOutStepJob('slow-charge', async (_order, ctx) =>
      // The payment call ignores ctx.signal: the first attempt times out while it is under way.
      ctx.step('charge', async () => {
        await clock.sleep(ctx.attempt === 1 ? 1_500 : 10);
        charges.push(ctx.attempt);
        return { chargeId: `ch_${ctx.attempt}` };
      }),
    );
    try {
      const summary = await drive(runJob(job, { ledger, clock, random: () => 0 }), clock);
      expect(summary).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
      expect(charges).toEqual([1]);
      expect((await ledger.completedSteps('a')).get('charge')).toEqual({ result: '{"chargeId":"ch_1"}' });
    } finally {
      await ledger.close();
    }
  });

  it('a retry replays a step its timed-out attempt completed after the retry had read the stored steps', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    const effects: string[] = [];
    const job = timedOutStepJob('late-step', async (_order, ctx) => {
      await ctx.step('reserve', () => effects.push(`reserve ${ctx.attempt}`));
      // The retry reads the stored steps here (reserve), then works for 500 ms: attempt 1's
      // charge, abandoned at its timeout, completes and is stored meanwhile.
      if (ctx.attempt > 1) await clock.sleep(500);
      return ctx.step('charge', async () => {
        await clock.sleep(ctx.attempt === 1 ? 1_500 : 10);
        effects.push(`charge ${ctx.attempt}`);
        return `ch_${ctx.attempt}`;
      });
    });
    try {
      const summary = await drive(runJob(job, { ledger, clock, random: () => 0 }), clock);
      expect(summary).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
      expect(effects).toEqual(['reserve 1', 'charge 1']);
    } finally {
      await ledger.close();
    }
  });

  it('a retry that waited for the step of its timed-out attempt runs it itself when that call throws', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    const charges: number[] = [];
    const job = timedOutStepJob('slow-failed-charge', async (_order, ctx) =>
      ctx.step('charge', async () => {
        await clock.sleep(ctx.attempt === 1 ? 1_500 : 10);
        if (ctx.attempt === 1) throw new Error('card declined by a timed-out call');
        charges.push(ctx.attempt);
        return { chargeId: `ch_${ctx.attempt}` };
      }),
    );
    try {
      const summary = await drive(runJob(job, { ledger, clock, random: () => 0 }), clock);
      expect(summary).toMatchObject({ status: 'completed', succeeded: 1, failed: 0 });
      expect(charges).toEqual([2]);
      expect((await ledger.completedSteps('a')).get('charge')).toEqual({ result: '{"chargeId":"ch_2"}' });
    } finally {
      await ledger.close();
    }
  });

  it('a rerun of a failed record replays its completed steps', async () => {
    const clock = new ManualClock();
    const ledger = memoryLedger();
    let charges = 0;
    let shippingUp = false;
    const job = defineJob<{ id: string }>({
      name: 'ship',
      source: [{ id: 'a' }],
      key: (o) => o.id,
      retry: { maxAttempts: 1 },
      maxFailureRate: 1,
      handler: async (_, ctx) => {
        await ctx.step('charge', () => ++charges);
        return ctx.step('ship', () => {
          if (!shippingUp) throw new Error('carrier down');
          return 'shipped';
        });
      },
    });
    try {
      expect(await drive(runJob(job, { ledger, clock }), clock)).toMatchObject({ failed: 1 });
      shippingUp = true;
      expect(await drive(runJob(job, { ledger, clock, rerun: {} }), clock)).toMatchObject({ status: 'completed', failed: 0 });
      expect(charges).toBe(1);
    } finally {
      await ledger.close();
    }
  });

  it.each([
    [
      'an unpaired surrogate',
      'email-caf\ud83d',
      'is not well-formed text (an unpaired surrogate at index 9): it cannot be stored and read back the same',
    ],
    ['U+0000', 'email\u0000', 'holds a NUL character (U+0000) at index 5: PostgreSQL cannot store it'],
    ['more than 512 bytes', 'e'.repeat(513), 'is 513 bytes long in UTF-8, more than the 512 a ledger indexes'],
  ])(
    'refuses a step name with %s before calling fn: the ledger would store it as another name, and a rerun or a resume would run fn again',
    async (_, name, problem) => {
      const ledger = join(tempDir(), 'l.sqlite');
      let calls = 0;
      const job = defineJob<{ id: string }>({
        name: 'step-name',
        source: [{ id: 'a' }],
        key: (o) => o.id,
        maxFailureRate: 1,
        retry: { maxAttempts: 1 },
        handler: async (_, ctx) => ctx.step(name, () => (calls++, 'sent')),
      });
      const failures: { error: { message: string } }[] = [];
      const summary = await runJob(job, { ledger, onEvent: (e) => e.type === 'record:failed' && failures.push(e) });
      expect(summary).toMatchObject({ failed: 1 });
      expect(calls).toBe(0);
      expect(failures[0]?.error.message).toBe(`ctx.step(${JSON.stringify(name)}, fn): the name ${problem}`);
    },
  );

  it('fails the record as fatal when a step returns what JSON cannot store, naming the step', async () => {
    const clock = new ManualClock();
    let calls = 0;
    const job = defineJob<{ id: string }>({
      name: 'bad-step',
      source: [{ id: 'a' }],
      key: (o) => o.id,
      maxFailureRate: 1,
      handler: async (_, ctx) => ctx.step('count', () => (calls++, 10n)),
    });
    const failures: unknown[] = [];
    const summary = await drive(
      runJob(job, { ledger: 'memory', clock, onEvent: (e) => e.type === 'record:failed' && failures.push(e) }),
      clock,
    );
    expect(summary).toMatchObject({ failed: 1 });
    expect(calls).toBe(1);
    expect(failures[0]).toMatchObject({
      kind: 'fatal',
      error: {
        name: 'FatalError',
        message: expect.stringMatching(/^ctx\.step\("count"\) returned a result that cannot be stored as JSON/),
      },
    });
  });
});
