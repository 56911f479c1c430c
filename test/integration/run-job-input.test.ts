/**
 * What `runJob` is given: a job from `defineJob`, or the same options as a plain object, which it
 * checks as defineJob does (the same messages, naming the field). Anything else is a ConfigError
 * saying what runJob takes, not a TypeError from deep inside the engine, and nothing is created.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { Job } from '../../src/job.js';
import { runJob } from '../../src/engine/run-job.js';
import { tempDir } from '../helpers/temp.js';

describe('runJob given something other than a defined job', () => {
  it('runs the options of a job given as a plain object, checked as defineJob checks them', async () => {
    const seen: number[] = [];
    const plain = { name: 'plain', source: [1, 2, 3], key: String, handler: (r: number) => void seen.push(r) };
    const summary = await runJob(plain, { ledger: 'memory' });
    expect(summary).toMatchObject({ status: 'completed', succeeded: 3 });
    expect(seen).toEqual([1, 2, 3]);
    const bad = { name: 'bad', source: [1], key: 'id', handler: () => undefined };
    // Refused as it is called, as a bad run option is.
    expect(() => runJob(bad as unknown as Job<number, unknown>, { ledger: 'memory' })).toThrow(
      'key must be a function (record) => string, e.g. key: (r) => String(r.id)',
    );
  });

  it('refuses what is not a job at all with a ConfigError, creating no ledger', async () => {
    const ledger = join(tempDir(), 'never.sqlite');
    for (const value of [null, undefined, 'job.mjs', 42]) {
      expect(() => runJob(value as unknown as Job<number, unknown>, { ledger })).toThrow(ConfigError);
      expect(() => runJob(value as unknown as Job<number, unknown>, { ledger })).toThrow(
        /^runJob needs a job, as defineJob\(\{ name, source, key, handler \}\) makes; got /,
      );
    }
    expect(existsSync(ledger)).toBe(false);
  });
});
