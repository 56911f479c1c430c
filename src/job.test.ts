import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { defineJob, type JobOptions } from './job.js';

const base = (): JobOptions<number> => ({
  name: 'my-job',
  source: [1, 2, 3],
  key: (r) => String(r),
  handler: async (r) => r * 2,
});

/** Calls defineJob with `overrides` on top of a valid job and returns the ConfigError it throws. */
function configError(overrides: Record<string, unknown>): ConfigError {
  try {
    defineJob({ ...base(), ...overrides } as JobOptions<number>);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe('CONFIG');
    expect((error as ConfigError).name).toBe('ConfigError');
    return error as ConfigError;
  }
  throw new Error(`defineJob accepted ${JSON.stringify(overrides)}`);
}

function without(field: keyof JobOptions<number>): Record<string, unknown> {
  const options: Record<string, unknown> = { ...base() };
  delete options[field];
  return options;
}

function errorOf(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('no error thrown');
}

describe('defineJob: required fields', () => {
  it.each([
    ['name', 'job.name must be 1-100 letters'],
    ['source', 'job.source is required'],
    ['key', 'key must be a function'],
    ['handler', 'handler must be an async function'],
  ] as const)('a missing %s is a ConfigError naming the field and the missing value', (field, start) => {
    const error = errorOf(() => defineJob(without(field) as unknown as JobOptions<number>));
    expect(error.field).toBe(field);
    expect(error.message.startsWith(start)).toBe(true);
    expect(error.message).toMatch(/got undefined$/);
  });

  it.each([
    [null, 'null'],
    [undefined, 'undefined'],
    [5, 'number'],
  ])('rejects %s instead of an object, naming what it got', (value, shown) => {
    const error = errorOf(() => defineJob(value as unknown as JobOptions<number>));
    expect(error.field).toBeUndefined();
    expect(error.message).toBe(`defineJob expects an object with name, source, key and handler; got ${shown}`);
  });
});

describe('defineJob: wrong types', () => {
  it.each([
    [{ name: 5 }, 'name', 'got 5'],
    [{ key: 'id' }, 'key', 'got "id"'],
    [{ handler: 5 }, 'handler', 'got 5'],
    [{ classify: 'fatal' }, 'classify', 'got "fatal"'],
    [{ timeoutMs: '100' }, 'timeoutMs', 'got "100"'],
    [{ timeoutMs: 0 }, 'timeoutMs', 'got 0'],
    [{ concurrency: '4' }, 'concurrency', 'got "4"'],
    [{ maxFailures: -1 }, 'maxFailures', 'got -1'],
    [{ shutdownGraceMs: 1.5 }, 'shutdownGraceMs', 'got 1.5'],
  ])('%j → field %s, message naming the value', (overrides, field, got) => {
    const error = configError(overrides);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
    expect(error.message.endsWith(got)).toBe(true);
  });

  it('shows non-finite numbers as they are written, not as JSON null', () => {
    expect(configError({ timeoutMs: Infinity }).message).toBe('timeoutMs must be a finite number > 0; got Infinity');
    expect(configError({ concurrency: Number.NaN }).message).toBe('concurrency must be an integer from 1 to 10000; got NaN');
  });

  it('rejects a string source with a hint to use jsonl() or csv()', () => {
    const error = configError({ source: 'data/cities.jsonl' });
    expect(error.field).toBe('source');
    expect(error.message).toBe(
      'source must be a source, not the string "data/cities.jsonl"; for a file use jsonl("data/cities.jsonl") or csv("data/cities.jsonl")',
    );
  });

  it('rejects a source that is neither a Source nor iterable', () => {
    const error = configError({ source: 42 });
    expect(error.field).toBe('source');
    expect(error.message).toBe(
      'source must be jsonl(path), csv(path), an Iterable or AsyncIterable, or a function returning one; got number',
    );
  });
});

describe('defineJob: numeric limits', () => {
  it.each([0, 1.5, -1, 10_001])('concurrency %s is rejected', (concurrency) => {
    const error = configError({ concurrency });
    expect(error.field).toBe('concurrency');
    expect(error.message).toBe(`concurrency must be an integer from 1 to 10000; got ${concurrency}`);
  });

  it.each([1, 10_000])('concurrency %s is accepted', (concurrency) => {
    expect(defineJob({ ...base(), concurrency }).concurrency).toBe(concurrency);
    expect(defineJob({ ...base(), concurrency }).concurrencyRange).toBeUndefined();
  });

  it('concurrency { min, max } is an adaptive range whose max is the number of slots', () => {
    const job = defineJob({ ...base(), concurrency: { min: 1, max: 64 } });
    expect(job.concurrency).toBe(64);
    expect(job.concurrencyRange).toEqual({ min: 1, max: 64 });
  });

  it.each<[unknown, string, string]>([
    [{ min: 0, max: 8 }, 'concurrency.min', 'concurrency.min must be an integer from 1 to 10000; got 0'],
    [{ min: 16, max: 8 }, 'concurrency.min', 'concurrency.min (16) cannot exceed concurrency.max (8)'],
    [{ min: 1, maxx: 8 }, 'concurrency.maxx', 'concurrency.maxx is not a known option (did you mean "max"?)'],
    [null, 'concurrency', 'concurrency must be an integer or a range { min, max }; got null'],
  ])('concurrency %j is rejected naming the field', (concurrency, field, message) => {
    const error = configError({ concurrency: concurrency as never });
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it.each([2, -0.1, 1.0001])('maxFailureRate %s is rejected', (maxFailureRate) => {
    const error = configError({ maxFailureRate });
    expect(error.field).toBe('maxFailureRate');
    expect(error.message).toBe(`maxFailureRate must be a finite number from 0 to 1 (0.05 means 5%); got ${maxFailureRate}`);
  });

  it.each([0, 1])('maxFailureRate %s is accepted', (maxFailureRate) => {
    expect(defineJob({ ...base(), maxFailureRate }).maxFailureRate).toBe(maxFailureRate);
  });
});

describe('defineJob: name', () => {
  it.each(['bad name!', '', '-leading-dash', '.hidden', 'a/b', 'a'.repeat(101), 'café'])('rejects %j', (name) => {
    const error = configError({ name });
    expect(error.field).toBe('name');
    expect(error.message).toBe(
      `job.name must be 1-100 letters, digits, ".", "_" or "-" (it names the ledger file); got ${JSON.stringify(name)}`,
    );
  });

  it.each(['a', 'geocode-cities', 'Job_2.v3', '9lives', 'a'.repeat(100)])('accepts %j', (name) => {
    expect(defineJob({ ...base(), name }).name).toBe(name);
  });
});

describe('defineJob: unknown fields', () => {
  it('names a misspelt field and suggests the closest known one', () => {
    const error = configError({ concurency: 8 });
    expect(error.field).toBe('job.concurency');
    expect(
      error.message.startsWith(
        'job.concurency is not a known option (did you mean "concurrency"?); got 8; known options: name, source, key, handler, retry, ' +
          'classify, timeoutMs, concurrency, checkpoint, maxFailureRate, maxFailures, shutdownGraceMs',
      ),
    ).toBe(true);
  });

  it('suggests nothing for a field far from every known one', () => {
    const error = configError({ parallelismLevel: 8 });
    expect(error.field).toBe('job.parallelismLevel');
    expect(error.message).not.toContain('did you mean');
    expect(error.message.startsWith('job.parallelismLevel is not a known option; got 8; known options: name,')).toBe(true);
  });

  it('rejects an unknown checkpoint field with a hint', () => {
    const error = configError({ checkpoint: { everyRecord: 5 } });
    expect(error.field).toBe('checkpoint.everyRecord');
    expect(error.message).toBe(
      'checkpoint.everyRecord is not a known option (did you mean "everyRecords"?); got 5; known options: everyRecords, everyMs',
    );
  });

  it('validates checkpoint values', () => {
    expect(configError({ checkpoint: { everyRecords: 0 } })).toMatchObject({
      field: 'checkpoint.everyRecords',
      message: 'checkpoint.everyRecords must be an integer from 1 to 1000000; got 0',
    });
    expect(configError({ checkpoint: { everyMs: -1 } })).toMatchObject({
      field: 'checkpoint.everyMs',
      message: 'checkpoint.everyMs must be a finite number > 0; got -1',
    });
  });

  it.each([
    [5, '5'],
    [true, 'true'],
    ['often', '"often"'],
    [[1000], 'an array'],
    [null, 'null'],
  ])('rejects checkpoint %j that is not an object', (checkpoint, shown) => {
    const error = configError({ checkpoint });
    expect(error.field).toBe('checkpoint');
    expect(error.message).toBe(`checkpoint must be an object such as { everyRecords: 1000, everyMs: 1000 }; got ${shown}`);
  });
});

describe('defineJob: retry options', () => {
  it('rejects retry.maxAttempts 0, explaining what it counts', () => {
    const error = configError({ retry: { maxAttempts: 0 } });
    expect(error.field).toBe('retry.maxAttempts');
    expect(error.message).toBe('retry.maxAttempts must be an integer >= 1 (all calls, the first included; 1 disables retries); got 0');
  });

  it('rejects a misspelt jitter, listing the accepted ones', () => {
    const error = configError({ retry: { backoff: { kind: 'exponential', jitter: 'ful' } } });
    expect(error.field).toBe('retry.backoff.jitter');
    expect(error.message).toBe('retry.backoff.jitter must be one of none, full, equal, decorrelated (did you mean "full"?); got "ful"');
  });

  it('rejects retries with a hint that maxAttempts counts the first call', () => {
    const error = configError({ retry: { retries: 3 } });
    expect(error.field).toBe('retry.retries');
    expect(error.message).toContain(
      'retry.retries is not a known option; got 3; use maxAttempts, which counts all calls including the first',
    );
  });

  it('rejects a retry that is not an object', () => {
    const error = configError({ retry: 3 });
    expect(error.field).toBe('retry');
    expect(error.message).toBe('retry must be an object such as { maxAttempts: 3 }; got 3');
  });
});

describe('defineJob: defaults and identity', () => {
  it('applies every default', () => {
    const options = base();
    const job = defineJob(options);
    expect(job).toMatchObject({
      name: 'my-job',
      timeoutMs: 60_000,
      concurrency: 4,
      checkpoint: { everyRecords: 1000, everyMs: 1000 },
      maxFailureRate: 0.05,
      maxFailures: Number.MAX_SAFE_INTEGER,
      shutdownGraceMs: 10_000,
      classify: undefined,
      resolved: true,
    });
    expect(job.retry).toEqual({
      maxAttempts: 3,
      maxElapsedMs: 600_000,
      backoff: { kind: 'exponential', initialDelayMs: 200, multiplier: 2, maxDelayMs: 30_000, jitter: 'full' },
    });
    expect(job.key).toBe(options.key);
    expect(job.handler).toBe(options.handler);
    expect(job.source.seekable).toBe(false);
  });

  it('keeps given values', () => {
    const classify = (): undefined => undefined;
    const job = defineJob({
      ...base(),
      timeoutMs: 5,
      concurrency: 1,
      checkpoint: { everyRecords: 7 },
      maxFailureRate: 0,
      maxFailures: 0,
      shutdownGraceMs: 0,
      classify,
    });
    expect(job).toMatchObject({
      timeoutMs: 5,
      concurrency: 1,
      checkpoint: { everyRecords: 7, everyMs: 1000 },
      maxFailureRate: 0,
      maxFailures: 0,
      shutdownGraceMs: 0,
      classify,
    });
  });

  it('freezes the result and its nested options', () => {
    const job = defineJob(base());
    expect(Object.isFrozen(job)).toBe(true);
    expect(Object.isFrozen(job.checkpoint)).toBe(true);
    expect(Object.isFrozen(job.retry)).toBe(true);
    expect(() => {
      (job as { concurrency: number }).concurrency = 99;
    }).toThrow(TypeError);
    expect(job.concurrency).toBe(4);
  });

  it('defineJob(defineJob(x)) returns the same object', () => {
    const job = defineJob(base());
    expect(defineJob(job as unknown as JobOptions<number>)).toBe(job);
  });
});
