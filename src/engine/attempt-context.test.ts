import { describe, expect, it } from 'vitest';
import { EngineEvents } from './events.js';
import { AttemptContext, type AttemptShared } from './attempt-context.js';
import { openRecord, type OpenRecord } from './open-record.js';

function contextFor(escaped: (entry: OpenRecord, generation: number, error: unknown) => boolean) {
  const entry = openRecord('k1', { seq: 4, line: 5, offset: 60 }, { id: 1 });
  entry.attempt = 2;
  const shared: AttemptShared = {
    jobName: 'job',
    events: new EngineEvents([], []),
    stepStore: undefined,
    owner: { escaped },
    escapes: undefined,
  };
  const ctx = new AttemptContext(entry, 7, shared);
  entry.ctx = ctx;
  return { entry, ctx };
}

describe('AttemptContext', () => {
  it("serializes to the handler's fields only: the open record that holds it is no part of it", () => {
    const { ctx } = contextFor(() => true);
    expect(JSON.parse(JSON.stringify(ctx))).toEqual({
      key: 'k1',
      attempt: 2,
      position: { seq: 4, line: 5, offset: 60 },
      failedDependencies: [],
    });
    expect({ ...ctx }).toMatchObject({ key: 'k1', attempt: 2 });
    expect(ctx.idempotencyKey).toBe('job:k1');
  });

  it('as the escape scope, fails its own attempt: the entry and the generation it was made for', () => {
    const calls: unknown[] = [];
    const { entry, ctx } = contextFor((e, generation, error) => {
      calls.push([e, generation, error]);
      return false;
    });
    expect(ctx.fail('boom')).toBe(false);
    expect(calls).toEqual([[entry, 7, 'boom']]);
    expect(ctx.key).toBe('k1');
  });
});
