import { describe, it, expect } from 'vitest';
import { MAX_MASKED_MESSAGE_LENGTH, errorFingerprint, maskMessage } from './fingerprint.js';
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
});

describe('errorFingerprint', () => {
  it('groups messages that differ only in variable parts', () => {
    const a = errorFingerprint(serializeError(new Error('User 123 not found')));
    const b = errorFingerprint(serializeError(new Error('User 456 not found')));
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a).toEqual({ fingerprint: a.fingerprint, name: 'Error', message: 'User <n> not found' });
    expect(a.fingerprint).toMatch(/^[0-9a-f]{12}$/);
  });

  it('is stable across runs (a fixed value)', () => {
    // = printf 'Error\0\0\0User <n> not found' | sha1sum, first 12 chars; changing it splits existing groups in old ledgers.
    expect(errorFingerprint({ name: 'Error', message: 'User 7 not found' }).fingerprint).toBe('1b2b7f461646');
  });

  it('separates different names, codes, statuses and messages', () => {
    const base = errorFingerprint({ name: 'Error', message: 'request failed' }).fingerprint;
    expect(errorFingerprint({ name: 'TypeError', message: 'request failed' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ name: 'Error', code: 'ECONNRESET', message: 'request failed' }).fingerprint).not.toBe(base);
    expect(errorFingerprint({ name: 'Error', message: 'request timed out' }).fingerprint).not.toBe(base);
    const s404 = errorFingerprint({ name: 'HTTPError', status: 404, message: 'Request failed with status code 404' });
    const s503 = errorFingerprint({ name: 'HTTPError', status: 503, message: 'Request failed with status code 503' });
    expect(s404.message).toBe(s503.message);
    expect(s404.fingerprint).not.toBe(s503.fingerprint);
  });

  it('returns the code when there is one', () => {
    const fp = errorFingerprint(serializeError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })));
    expect(fp).toMatchObject({ name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED <n>:<n>' });
  });

  it('uses only the top-level error, not its cause', () => {
    const a = errorFingerprint(serializeError(new Error('save failed', { cause: new Error('disk full') })));
    const b = errorFingerprint(serializeError(new Error('save failed', { cause: new Error('permission denied') })));
    expect(a.fingerprint).toBe(b.fingerprint);
  });
});
