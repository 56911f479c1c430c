import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { resolveTracing } from './tracing-options.js';
import { runTracing } from './tracing.js';

describe('the tracing option', () => {
  it('is off unless asked for, and names a tracer', () => {
    expect(resolveTracing(undefined)).toBeUndefined();
    expect(resolveTracing(false)).toBeUndefined();
    expect(resolveTracing(true)).toEqual({ tracerName: 'batchguard' });
    expect(resolveTracing({})).toEqual({ tracerName: 'batchguard' });
    expect(resolveTracing({ tracerName: 'geocoder' })).toEqual({ tracerName: 'geocoder' });
  });

  it('names the field and the value it refuses', () => {
    expect(() => resolveTracing('yes')).toThrow(
      new ConfigError('tracing must be true, false or an object such as { tracerName: "geocoder" }; got "yes"', { field: 'tracing' }),
    );
    expect(() => resolveTracing({ tracerName: '' })).toThrow(
      new ConfigError('tracing.tracerName must be a non-empty string; got ""', { field: 'tracing.tracerName' }),
    );
    expect(() => resolveTracing({ tracername: 'x' })).toThrow(/tracing\.tracername/);
  });
});

describe('tracing without @opentelemetry/api', () => {
  it('calls the handler as if it were off, and says why in one warning', async () => {
    const notFound = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' });
    const tracing = runTracing({ tracerName: 'batchguard' }, 'job', 'run-1', () => Promise.reject(notFound));
    await tracing.start();
    expect(tracing.runAttempt('a', 1, () => 'result')).toBe('result');
    expect(() =>
      tracing.runAttempt('a', 2, () => {
        throw new TypeError('the handler threw');
      }),
    ).toThrow('the handler threw');
    expect(tracing.inRun(() => 7)).toBe(7);
    tracing.onEvent({ type: 'record:skipped', key: 'b', blockedBy: ['a'] });
    await tracing.end();
    expect(tracing.warnings()).toEqual([
      "tracing is on (the job's tracing option), but the package @opentelemetry/api cannot be found from batchguard; install it beside batchguard with `npm install @opentelemetry/api@1`; this run has no spans",
    ]);
  });

  it('tells a package that fails to load from one that is missing', async () => {
    const tracing = runTracing({ tracerName: 'batchguard' }, 'job', 'run-1', () => Promise.reject(new SyntaxError('Unexpected token')));
    await tracing.start();
    expect(tracing.warnings()).toEqual([
      'tracing is on, but @opentelemetry/api could not be loaded (SyntaxError: Unexpected token); this run has no spans',
    ]);
  });
});
