import { describe, it, expect } from 'vitest';
import { MASKED_INPUT_CHARS, MAX_MASKED_MESSAGE_LENGTH, errorFingerprint, failureFingerprint, maskMessage } from './fingerprint.js';
import { createHash } from 'node:crypto';
import { FatalError, RetryableError } from '../errors.js';
import { serializeError } from './serialize-error.js';

describe('maskMessage', () => {
  it.each([
    ['User 123 not found', 'User <n> not found'],
    ['took 12.5 ms on 10.0.0.12:5432', 'took <n> ms on <n>:<n>'],
    ['order 6f1c2a9e-0b7d-4e55-9a51-3f2a7c9b0d11 missing', 'order <id> missing'],
    ['object 507f1f77bcf86cd799439011 gone', 'object <id> gone'],
    ['bad pointer 0xdeadBEEF', 'bad pointer <id>'],
    [`Cannot read properties of undefined (reading 'id')`, 'Cannot read properties of undefined (reading <str>)'],
    ['unknown city "Zürich"', 'unknown city <str>'],
    ["can't parse 'x' and won't retry", "can't parse <str> and won't retry"],
    ['GET https://api.example.com/v1/users/42?x=1 failed', 'GET <url> failed'],
    ['mail to jane.doe+test@example.co.uk bounced', 'mail to <email> bounced'],
    ['open /var/data/records/123.json failed', 'open <path> failed'],
    ['see ./out/part-7.csv and ~/x', 'see <path> and <path>'],
    ['cannot open C:\\data\\in.csv now', 'cannot open <path> now'],
    ['  many \n\t spaces  ', 'many spaces'],
  ])('%j → %j', (message, masked) => {
    expect(maskMessage(message)).toBe(masked);
  });

  it('keeps words that merely look like hex or contain a slash', () => {
    expect(maskMessage('facade deadbeef and/or TCP/IP')).toBe('facade deadbeef and/or TCP/IP');
  });

  it('bounds the length', () => {
    expect(maskMessage('word '.repeat(500))).toHaveLength(MAX_MASKED_MESSAGE_LENGTH);
  });

  it('masks only a bounded prefix, so a huge message costs what its first kilobyte does', () => {
    // 10 MB, one token: the old masks backtracked over all of it from every position (quadratic).
    const huge = `user 42 ${'a'.repeat(10_000_000)}`;
    expect(maskMessage(huge)).toBe(maskMessage(huge.slice(0, MASKED_INPUT_CHARS)));
    expect(maskMessage(huge).startsWith('user <n> aaaa')).toBe(true);
  });

  it('still masks emails and paths at token boundaries only', () => {
    expect(maskMessage('x@y.z and a.b@example.com, /tmp/f.txt')).toBe('<email> and <email>, <path>');
  });
});

describe('errorFingerprint', () => {
  const fatal = { kind: 'fatal', rule: 'FatalError' };

  it('groups by identity, not wording: one group for a message that names the record', () => {
    const cities = ['New York', 'São Paulo', 'Zürich', 'Rio de Janeiro', 'Oslo'];
    const prints = cities.map((city) => errorFingerprint(serializeError(new FatalError(`no match for ${city}`)), fatal));
    expect(new Set(prints.map((p) => p.fingerprint)).size).toBe(1);
    // The templates stay distinct: they are the second level under the group.
    expect(prints[0]).toEqual({
      fingerprint: prints[0]?.fingerprint,
      name: 'FatalError',
      message: 'no match for New York',
      template: 'no match for New York',
    });
    expect(prints[0]?.fingerprint).toMatch(/^[0-9a-f]{12}$/);
  });

  it('is stable across runs (a fixed value)', () => {
    // = printf 'Error||\0exhausted\0default' | sha1sum, first 12 chars; changing it splits existing groups in old ledgers.
    expect(errorFingerprint({ name: 'Error', message: 'User 7 not found' }, { kind: 'exhausted', rule: 'default' }).fingerprint).toBe(
      createHash('sha1').update('Error||\u0000exhausted\u0000default').digest('hex').slice(0, 12),
    );
  });

  it('separates names, codes, statuses, kinds and rules', () => {
    const base = errorFingerprint({ name: 'Error', message: 'request failed' }).fingerprint;
    expect(errorFingerprint({ name: 'TypeError', message: 'request failed' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ name: 'Error', code: 'ECONNRESET', message: 'request failed' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ name: 'Error', message: 'request failed' }, { kind: 'timeout' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ name: 'Error', message: 'request failed' }, { rule: 'programming-TypeError' }).fingerprint).not.toBe(base);
    const s404 = errorFingerprint({ name: 'HTTPError', status: 404, message: 'Request failed with status code 404' });
    const s503 = errorFingerprint({ name: 'HTTPError', status: 503, message: 'Request failed with status code 503' });
    expect(s404.template).toBe(s503.template);
    expect(s404.fingerprint).not.toBe(s503.fingerprint);
  });

  it('returns the code when there is one', () => {
    const fp = errorFingerprint(serializeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
    expect(fp).toMatchObject({ name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED <n>:<n>' });
  });

  it("follows the cause chain: fetch's ECONNREFUSED and ENOTFOUND differ, and so do wrappers of a 503 and a 404", () => {
    const fetchFailed = (code: string): Error =>
      new TypeError('fetch failed', { cause: Object.assign(new Error(`connect ${code} api.example.com`), { code }) });
    const refused = errorFingerprint(serializeError(fetchFailed('ECONNREFUSED')), { kind: 'exhausted', rule: 'network-ECONNREFUSED' });
    const notFound = errorFingerprint(serializeError(fetchFailed('ENOTFOUND')), { kind: 'exhausted', rule: 'network-ENOTFOUND' });
    expect(refused.fingerprint).not.toBe(notFound.fingerprint);

    const wrap = (status: number): Error => new Error('sync failed', { cause: Object.assign(new Error(`HTTP ${status}`), { status }) });
    const w503 = errorFingerprint(serializeError(wrap(503)), { kind: 'exhausted' });
    const w404 = errorFingerprint(serializeError(wrap(404)), { kind: 'exhausted' });
    expect(w503.template).toBe(w404.template);
    expect(w503.fingerprint).not.toBe(w404.fingerprint);
    // The same cause under differently worded wrappers is one group.
    const again = errorFingerprint(
      serializeError(new Error('sync of order 7 failed', { cause: Object.assign(new Error('HTTP 503'), { status: 503 }) })),
      { kind: 'exhausted' },
    );
    expect(again.fingerprint).toBe(w503.fingerprint);
  });

  it('takes an explicit group from FatalError or RetryableError, anywhere up the chain', () => {
    const a = errorFingerprint(serializeError(new FatalError('no geocode for x', { group: 'geocoder-miss' })), fatal);
    const b = errorFingerprint(serializeError(new RetryableError('upstream said no', { group: 'geocoder-miss' })), {
      kind: 'exhausted',
      rule: 'RetryableError',
    });
    const wrapped = errorFingerprint(
      serializeError(new Error('outer', { cause: new FatalError('inner', { group: 'geocoder-miss' }) })),
      fatal,
    );
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(wrapped.fingerprint).toBe(a.fingerprint);
    expect(a.fingerprint).not.toBe(errorFingerprint(serializeError(new FatalError('no geocode for x')), fatal).fingerprint);
    // A plain error's `group` property is not an explicit group (HTTP clients use the name for other things).
    const plain = Object.assign(new Error('x'), { group: 'geocoder-miss' });
    expect(serializeError(plain)).not.toHaveProperty('group');
  });
});

describe('failureFingerprint', () => {
  it('is the fingerprint of errorFingerprint, the same for every error of a group, however many groups a run has', () => {
    const sha1 = (text: string) => createHash('sha1').update(text).digest('hex').slice(0, 12);
    const identity = (i: number) => ({ name: 'Error', code: `E${i}`, message: `record ${i} failed` });
    // More groups than are remembered, twice over: a forgotten one is hashed again, to the same value.
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 600; i++) {
        const error = identity(i);
        const expected = sha1(`Error|E${i}|\u0000fatal\u0000rule-${i % 3}`);
        expect(failureFingerprint(error, { kind: 'fatal', rule: `rule-${i % 3}` })).toBe(expected);
        expect(errorFingerprint(error, { kind: 'fatal', rule: `rule-${i % 3}` }).fingerprint).toBe(expected);
      }
    }
  });
});
