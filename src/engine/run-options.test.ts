import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { defineJob } from '../job.js';
import { resolveRunOptions, type RunOptions } from './run-options.js';

const job = defineJob({ name: 'options', source: [], key: (r: unknown) => String(r), handler: () => undefined, ledger: 'memory' });

function refusal(options: Record<string, unknown>): string {
  try {
    resolveRunOptions(job, options as RunOptions);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(options)}`);
}

describe('resolveRunOptions', () => {
  it('refuses hooks and switches of the wrong type with a ConfigError naming the option and the value', () => {
    expect(refusal({ onEvent: 'log' })).toBe('runOptions.onEvent must be a function (event) => void; got "log"');
    expect(refusal({ random: 0.5 })).toBe('runOptions.random must be a function () => number in [0, 1); got 0.5');
    expect(refusal({ clock: {} })).toBe('runOptions.clock must be a Clock with now(), sleep() and timer(); got {}');
    expect(refusal({ signal: 'stop' })).toBe('runOptions.signal must be an AbortSignal (controller.signal); got "stop"');
    expect(refusal({ attributeEscapes: 'no' })).toBe('runOptions.attributeEscapes must be true or false; got "no"');
    expect(refusal({ acceptDrift: 1 })).toBe('runOptions.acceptDrift must be true or false; got 1');
    expect(refusal({ takeOver: 'yes' })).toBe('runOptions.takeOver must be true or false; got "yes"');
  });

  it('refuses a bad deadline before the run starts (the ledger is opened after), naming the option', () => {
    expect(refusal({ maxRecords: 0 })).toBe('maxRecords must be an integer >= 1 (records started in this run); got 0');
    expect(refusal({ maxDurationMs: -5 })).toContain('maxDurationMs must be');
    expect(refusal({ untilMs: 'tomorrow' })).toContain('untilMs must be');
  });

  it('takes the hooks and switches it is given, and defaults for those left out', () => {
    const onEvent = (): void => {};
    const random = (): number => 0.25;
    const controller = new AbortController();
    const resolved = resolveRunOptions(job, { onEvent, random, signal: controller.signal, attributeEscapes: false, takeOver: true });
    expect(resolved).toMatchObject({
      onEvent,
      random,
      signal: controller.signal,
      attributeEscapes: false,
      takeOver: true,
      acceptDrift: false,
    });
    expect(resolveRunOptions(job, {})).toMatchObject({ onEvent: undefined, random: Math.random, attributeEscapes: true, takeOver: false });
  });
});
